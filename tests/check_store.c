/* check_store.c - opening, pragmas, migrations, and the schema's rules
 * for hand-written SQL. */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cs_config.h"
#include "cs_directory.h"
#include "cs_error.h"
#include "cs_log.h"
#include "cs_offline.h"
#include "cs_roster.h"
#include "cs_store.h"
#include "cs_uroster.h"
#include "cs_util.h"
#include "testutil.h"

static char *conv_via; /* the conversation via column, unused here */

static char dir[64], db[128];
static struct config cfg;

static void setup(void)
{
    log_init(LOG_LEVEL_ERROR, false, "check_store");
    snprintf(dir, sizeof(dir), "%s", "/tmp/check_store.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    chmod(dir, 0755);
    snprintf(db, sizeof(db), "%s/chanstat.db", dir);
    config_defaults(&cfg);
}

static void teardown(void)
{
    char cmd[128];
    config_deinit(&cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *one(struct store *s, const char *q)
{
    static char buf[128];
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(store_handle(s), q, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(buf, sizeof(buf), "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return buf;
}

/* Runs q on h; returns NULL on success or SQLite's message. */
static const char *exec_db(sqlite3 *h, const char *q)
{
    static char buf[256];
    char *msg = NULL;
    if (sqlite3_exec(h, q, NULL, NULL, &msg) == SQLITE_OK)
        return NULL;
    snprintf(buf, sizeof(buf), "%s", msg ? msg : "(no message)");
    sqlite3_free(msg);
    return buf;
}

static const char *exec(struct store *s, const char *q)
{
    return exec_db(store_handle(s), q);
}

/* A single-value query on h, as an integer. */
static int count_db(sqlite3 *h, const char *q)
{
    sqlite3_stmt *st;
    int n;
    ck_assert_msg(sqlite3_prepare_v2(h, q, -1, &st, NULL) == SQLITE_OK, "%s: %s", q,
                  sqlite3_errmsg(h));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int(st, 0);
    ck_assert_int_eq(sqlite3_finalize(st), SQLITE_OK);
    return n;
}

/* Opens the file as the sqlite3 shell does: foreign keys off. */
static sqlite3 *open_raw(void)
{
    sqlite3 *raw;
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(count_db(raw, "PRAGMA foreign_keys"), 0);
    return raw;
}

/* Asserts that every step of sql's plan looks rows up through an index
 * (SEARCH ... USING ...): no scan, no sort.  Returns the plan's lines. */
static int assert_indexed(sqlite3 *h, const char *sql)
{
    char q[1024];
    sqlite3_stmt *st;
    int lines = 0;
    snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
    ck_assert_msg(sqlite3_prepare_v2(h, q, -1, &st, NULL) == SQLITE_OK, "%s: %s", q,
                  sqlite3_errmsg(h));
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 3);
        /* A subquery's header line; its own steps follow as lines. */
        if (d && strstr(d, "SCALAR SUBQUERY ") != NULL)
            continue;
        ck_assert_msg(d && strncmp(d, "SEARCH ", 7) == 0 && strstr(d, " USING "), "%s: plan '%s'",
                      sql, d ? d : "");
        lines++;
    }
    ck_assert_int_eq(sqlite3_finalize(st), SQLITE_OK);
    return lines;
}

static struct store *open_ok(void)
{
    struct store *s;
    char err[256];
    ck_assert_msg(store_open(db, &cfg, &s, err, sizeof(err)) == 0, "%s", err);
    return s;
}

START_TEST(test_fresh_and_reopen)
{
    struct store *s = open_ok();
    ck_assert_int_eq(store_schema_version(s), STORE_SCHEMA_VERSION);
    ck_assert_str_eq(one(s, "PRAGMA journal_mode"), "wal");
    ck_assert_str_eq(one(s, "PRAGMA foreign_keys"), "1");
    ck_assert_str_eq(one(s, "PRAGMA synchronous"), "2");
    ck_assert_ptr_null(exec(s, "INSERT INTO channel (name) VALUES ('keep')"));
    store_close(&s);
    ck_assert_ptr_null(s);
    store_close(&s); /* NULL-safe */
    s = open_ok();
    ck_assert_int_eq(store_schema_version(s), STORE_SCHEMA_VERSION);
    ck_assert_str_eq(one(s, "SELECT count(*) FROM channel"), "1");
    store_close(&s);
}
END_TEST

START_TEST(test_newer_schema)
{
    struct store *s = open_ok();
    char err[256], want[256];
    char set[64];
    snprintf(set, sizeof(set), "PRAGMA user_version = %d", STORE_SCHEMA_VERSION + 1);
    ck_assert_ptr_null(exec(s, set));
    store_close(&s);
    ck_assert_int_eq(store_open(db, &cfg, &s, err, sizeof(err)), CS_EDBVERSION);
    ck_assert_ptr_null(s);
    snprintf(want, sizeof(want),
             "database '%s' has schema version %d, newer than this chanstat supports (%d); "
             "upgrade chanstat",
             db, STORE_SCHEMA_VERSION + 1, STORE_SCHEMA_VERSION);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_not_a_database)
{
    struct store *s;
    char err[256];
    FILE *f = fopen(db, "w");
    fputs("this is not an SQLite database, just text that is long enough to be read\n", f);
    fclose(f);
    ck_assert_int_eq(store_open(db, &cfg, &s, err, sizeof(err)), CS_EDB);
    ck_assert_ptr_nonnull(strstr(err, "file is not a database"));
    ck_assert_ptr_nonnull(strstr(err, db));
}
END_TEST

START_TEST(test_missing_directory)
{
    struct store *s;
    char err[256];
    ck_assert_int_eq(store_open("/nonexistent-dir/x.db", &cfg, &s, err, sizeof(err)), CS_EDB);
    ck_assert_str_eq(err,
                     "cannot open database '/nonexistent-dir/x.db': unable to open database file");
}
END_TEST

START_TEST(test_read_only)
{
    /* Root ignores file modes: the check runs in a child as nobody. */
    struct store *s = open_ok();
    pid_t pid;
    int status;
    store_close(&s);
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", db);
    unlink(wal);
    chmod(db, 0444);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char err[256];
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        int r = store_open(db, &cfg, &s, err, sizeof(err));
        if (r != CS_EREADONLY || strstr(err, "is read-only") == NULL)
            fprintf(stderr, "read-only open gave %d: %s\n", r, err);
        _exit(r == CS_EREADONLY && strstr(err, "is read-only") ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(test_failed_migration_rolls_back)
{
    /* A conflicting table makes migration 1 fail half-way. */
    sqlite3 *raw;
    struct store *s;
    char err[256];
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "CREATE TABLE roster (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    ck_assert_int_eq(store_open(db, &cfg, &s, err, sizeof(err)), CS_EDB);
    ck_assert_ptr_nonnull(strstr(err, "migration to schema version 1 failed"));
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(
        sqlite3_prepare_v2(raw,
                           "SELECT (SELECT user_version FROM pragma_user_version),"
                           " (SELECT count(*) FROM sqlite_master WHERE name = 'channel')",
                           -1, &st, NULL),
        SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 0);
    ck_assert_int_eq(sqlite3_column_int(st, 1), 0); /* nothing half-way */
    sqlite3_finalize(st);
    sqlite3_close(raw);
}
END_TEST

START_TEST(test_failed_migration_conflicting_channel)
{
    /* A table named channel already there: migration 1 fails on its first
     * statement; user_version stays 0 and nothing of it remains. */
    sqlite3 *raw;
    sqlite3_stmt *st;
    struct store *s = (struct store *)&s; /* must be NULLed */
    char err[256];
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(raw, "CREATE TABLE channel (x); PRAGMA user_version = 0", NULL, NULL, NULL),
        SQLITE_OK);
    ck_assert_int_eq(sqlite3_close(raw), SQLITE_OK);
    ck_assert_int_eq(store_open(db, &cfg, &s, err, sizeof(err)), CS_EDB);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err, "migration to schema version 1 failed") && strstr(err, db) &&
                      strstr(err, "table channel already exists"),
                  "%s", err);
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(raw,
                                        "SELECT (SELECT user_version FROM pragma_user_version),"
                                        " (SELECT count(*) FROM sqlite_master WHERE name IN"
                                        "  ('roster', 'roster_watchers', 'offline'))",
                                        -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 0);
    ck_assert_int_eq(sqlite3_column_int(st, 1), 0);
    ck_assert_int_eq(sqlite3_finalize(st), SQLITE_OK);
    ck_assert_int_eq(sqlite3_close(raw), SQLITE_OK);
}
END_TEST

START_TEST(test_synchronous_normal)
{
    struct store *s;
    cfg.synchronous = 1;
    cfg.busy_timeout_ms = 1234;
    s = open_ok();
    ck_assert_str_eq(one(s, "PRAGMA synchronous"), "1");
    /* busy_timeout_ms is chanstat's own busy handler (test_writes_when_locked). */
    store_close(&s);
}
END_TEST

static const struct {
    const char *sql;
    const char *error; /* NULL: accepted */
} edits[] = {
    {"INSERT INTO channel (name, owner, policy) VALUES ('desk', 'bob@b.test', 'approve')", NULL},
    {"INSERT INTO channel (name, policy) VALUES ('x', 'maybe')", "channel_policy_valid"},
    {"INSERT INTO channel (name) VALUES ('Desk')", "channel_name_lowercase"},
    {"INSERT INTO channel (name) VALUES ('a@b')", "channel_name_is_localpart"},
    {"INSERT INTO channel (name) VALUES ('a b')", "channel_name_is_localpart"},
    {"INSERT INTO channel (name) VALUES ('')", "channel_name_is_localpart"},
    {"INSERT INTO channel (name, owner) VALUES ('y', 'bob@b.test/phone')",
     "channel.owner: must be a bare JID, without / or space"},
    {"INSERT INTO channel (name, owner) VALUES ('y', 'bob')", "channel_owner_is_bare_jid"},
    {"INSERT INTO roster (channel, jid) VALUES ('desk', 'w@c.test')", NULL},
    {"INSERT INTO roster (channel, jid) VALUES ('desk', 'c.test')", NULL},
    {"INSERT INTO roster (channel, jid, subscription) VALUES ('desk', 'v@c.test', 'maybe')",
     "roster_subscription_valid"},
    {"INSERT INTO roster (channel, jid, subscription, ask) VALUES ('desk', 'v@c.test', 'both', 1)",
     "roster_ask_needs_no_to"},
    {"INSERT INTO roster (channel, jid, subscription, pending_in) VALUES ('desk', 'v@c.test', "
     "'from', 1)",
     "roster_pending_in_needs_no_from"},
    {"INSERT INTO roster (channel, jid, subscription, approved) VALUES ('desk', 'v@c.test', "
     "'from', 1)",
     "roster_approved_only_before_request"},
    {"INSERT INTO roster (channel, jid) VALUES ('desk', 'v@c.test/res')",
     "roster.jid: must be a bare JID, without / or space"},
    {"INSERT INTO roster (channel, jid) VALUES ('nosuch', 'v@c.test')",
     "roster.channel: no such channel"},
    {"INSERT INTO roster (channel, jid, ask) VALUES ('desk', 'v@c.test', 2)", "roster_ask_bool"},
    /* Since schema version 3 the jid triggers answer first, naming the rule. */
    {"INSERT INTO roster (channel, jid) VALUES ('desk', '')",
     "roster.jid: localpart and domain must not be empty"},
    {"INSERT INTO roster (channel, jid) VALUES ('desk', '@c.test')",
     "roster.jid: localpart and domain must not be empty"},
    {"INSERT INTO roster (channel, jid) VALUES ('desk', 'v@')",
     "roster.jid: localpart and domain must not be empty"},
    {"INSERT INTO roster (channel, jid) VALUES ('desk', 'a@b@c.test')",
     "roster.jid: must not contain more than one @"},
    {"INSERT INTO roster (channel, jid) VALUES ('desk', 'v w@c.test')",
     "roster.jid: must be a bare JID, without / or space"},
    /* What only the CHECKs know: lengths, and an owner needs a localpart. */
    {"INSERT INTO roster (channel, jid) VALUES ('desk', printf('%.3072c', 'a'))",
     "roster_jid_is_bare_jid"},
    {"INSERT INTO channel (name, owner) VALUES ('y', 'b.test')", "channel_owner_is_bare_jid"},
    {"INSERT INTO roster (channel, jid, ask) VALUES ('desk', 'v@c.test', 'yes')",
     "cannot store TEXT value in INTEGER column roster.ask"}, /* STRICT */
    {"INSERT INTO roster (channel, jid) VALUES ('desk', 'w@c.test')",
     "UNIQUE constraint failed: roster.channel, roster.jid"},
    {"INSERT INTO channel (name) VALUES ('desk')", "UNIQUE constraint failed: channel.name"},
    {"INSERT INTO channel (name, display_name) VALUES ('z', zeroblob(10))",
     "cannot store BLOB value in TEXT column channel.display_name"},
    {"INSERT INTO channel (name) VALUES ('a/b')", "channel_name_is_localpart"},
    {"INSERT INTO channel (name) VALUES ('a:b')", "channel_name_is_localpart"},
    {"INSERT INTO channel (name) VALUES ('a''b')", "channel_name_is_localpart"},
    {"INSERT INTO channel (name) VALUES ('a' || char(9) || 'b')", "channel_name_is_localpart"},
    {"INSERT INTO channel (name) VALUES (printf('%.1024c', 'a'))", "channel_name_is_localpart"},
    {"INSERT INTO channel (name) VALUES (printf('%.1023c', 'a'))", NULL},
    {"INSERT INTO channel (name, owner) VALUES ('y', '@b.test')",
     "channel.owner: localpart and domain must not be empty"},
    {"INSERT INTO channel (name, owner) VALUES ('y', 'a@b@c')",
     "channel.owner: must not contain more than one @"},
    {"INSERT INTO channel (name, owner) VALUES ('y', 'a b@c')",
     "channel.owner: must be a bare JID, without / or space"},
    {"INSERT INTO channel (name, display_name) VALUES ('y', printf('%.1024c', 'd'))",
     "channel_display_name_length"},
    {"INSERT INTO channel (name, display_name, policy) VALUES ('caf\xc3\xa9', 'Front desk', "
     "'closed')",
     NULL},
    /* The nine states of RFC 6121 Appendix A that the columns can hold. */
    {"INSERT INTO roster (channel, jid, subscription, ask, pending_in) "
     "VALUES ('desk', 's1@c.test', 'none', 1, 1)",
     NULL},
    {"INSERT INTO roster (channel, jid, subscription, pending_in) "
     "VALUES ('desk', 's2@c.test', 'to', 1)",
     NULL},
    {"INSERT INTO roster (channel, jid, subscription, ask) "
     "VALUES ('desk', 's3@c.test', 'from', 1)",
     NULL},
    {"INSERT INTO roster (channel, jid, subscription) VALUES ('desk', 's4@c.test', 'both')", NULL},
    {"INSERT INTO roster (channel, jid, subscription, approved) "
     "VALUES ('desk', 's5@c.test', 'to', 1)",
     NULL},
    {"INSERT INTO roster (channel, jid, subscription, pending_in, approved) "
     "VALUES ('desk', 's6@c.test', 'none', 1, 1)",
     "roster_approved_only_before_request"},
    {"INSERT INTO roster (channel, jid, subscription, approved) "
     "VALUES ('desk', 's6@c.test', 'both', 1)",
     "roster_approved_only_before_request"},
    {"INSERT INTO roster (channel, jid, subscription, ask) "
     "VALUES ('desk', 's6@c.test', 'to', 1)",
     "roster_ask_needs_no_to"},
    {"INSERT INTO roster (channel, jid, subscription, pending_in) "
     "VALUES ('desk', 's6@c.test', 'both', 1)",
     "roster_pending_in_needs_no_from"},
    {"UPDATE roster SET subscription = 'both' WHERE jid = 's1@c.test'", "roster_ask_needs_no_to"},
    {"UPDATE roster SET channel = 'nosuch' WHERE jid = 's1@c.test'",
     "roster.channel: no such channel"},
    {"INSERT INTO roster (channel, jid, name, groups) "
     "VALUES ('desk', 's7@c.test', 'Seven', 'Friends' || char(10) || 'Work')",
     NULL},
};

START_TEST(test_hand_edits)
{
    struct store *s = open_ok();
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        const char *e = exec(s, edits[i].sql);
        if (edits[i].error == NULL)
            ck_assert_msg(e == NULL, "%s rejected: %s", edits[i].sql, e);
        else
            ck_assert_msg(e && strstr(e, edits[i].error), "%s: got '%s', want '%s'", edits[i].sql,
                          e ? e : "accepted", edits[i].error);
    }
    /* Renaming and deleting a channel carries its roster along. */
    ck_assert_ptr_null(exec(s, "UPDATE channel SET name = 'front' WHERE name = 'desk'"));
    ck_assert_str_eq(one(s, "SELECT count(*) FROM roster WHERE channel = 'front'"), "8");
    ck_assert_str_eq(one(s, "SELECT count(*) FROM roster WHERE channel = 'desk'"), "0");
    ck_assert_ptr_null(exec(s, "DELETE FROM channel WHERE name = 'front'"));
    ck_assert_str_eq(one(s, "SELECT count(*) FROM roster"), "0");
    store_close(&s);
}
END_TEST

START_TEST(test_hand_edits_without_foreign_keys)
{
    /* The sqlite3 shell runs with foreign keys off: triggers hold the line. */
    struct store *s = open_ok();
    sqlite3 *raw;
    char *msg = NULL;
    ck_assert_ptr_null(exec(s, "INSERT INTO channel (name) VALUES ('desk')"));
    ck_assert_ptr_null(exec(s, "INSERT INTO roster (channel, jid) VALUES ('desk', 'w@c.test')"));
    store_close(&s);
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_ne(sqlite3_exec(raw, "INSERT INTO roster (channel, jid) VALUES ('nosuch', 'v@c')",
                                  NULL, NULL, &msg),
                     SQLITE_OK);
    ck_assert_str_eq(msg, "roster.channel: no such channel");
    sqlite3_free(msg);
    ck_assert_int_eq(sqlite3_exec(raw, "DELETE FROM channel", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(raw, "SELECT count(*) FROM roster", -1, &st, NULL);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    sqlite3_close(raw);
}
END_TEST

/* Schema version 3: the bare-JID triggers on roster.jid and channel.owner. */
#define R_CHARS "must not contain ' \" < > & or a control character"
#define R_BARE "must be a bare JID, without / or space"
#define R_AT "must not contain more than one @"
#define R_EMPTY "localpart and domain must not be empty"
#define R_LOWER "domain must be lowercase"

enum { IN_ROSTER = 1, IN_OWNER = 2, IN_BOTH = 3 };

static const struct {
    const char *value; /* an SQL expression */
    const char *rule;  /* NULL: accepted */
    int where;         /* the columns it is tried on */
} jid_values[] = {
    {"'o.brien@a.test'", NULL, IN_BOTH},
    {"'x@a-b.example.org'", NULL, IN_BOTH},
    {"'j\xc3\xbcrgen@a.test'", NULL, IN_BOTH},            /* UTF-8 localpart */
    {"'\xe6\x97\xa5\xe6\x9c\xac@a.test'", NULL, IN_BOTH}, /* CJK localpart */
    {"'x@b\xc3\xbc"
     "cher.example'",
     NULL, IN_BOTH},               /* not ASCII: lower() leaves it */
    {"'a.test'", NULL, IN_ROSTER}, /* a whole domain */
    {"NULL", NULL, IN_OWNER},      /* no owner */
    {"'o''brien@a.test'", R_CHARS, IN_BOTH},
    {"'a\"b@a.test'", R_CHARS, IN_BOTH},
    {"'a<b@a.test'", R_CHARS, IN_BOTH},
    {"'a>b@a.test'", R_CHARS, IN_BOTH},
    {"'a&b@a.test'", R_CHARS, IN_BOTH},
    {"'a@a.test'''", R_CHARS, IN_BOTH},
    {"'<a.test>'", R_CHARS, IN_ROSTER},
    {"'a' || char(0) || 'b@a.test'", R_CHARS, IN_BOTH},
    {"'a@a.test' || char(0)", R_CHARS, IN_BOTH},
    {"'a' || char(1) || 'b@a.test'", R_CHARS, IN_BOTH},
    {"'a' || char(9) || 'b@a.test'", R_CHARS, IN_BOTH},
    {"'a@a.test' || char(10)", R_CHARS, IN_BOTH},
    {"'a' || char(13) || 'b@a.test'", R_CHARS, IN_BOTH},
    {"'a@a' || char(31) || '.test'", R_CHARS, IN_BOTH},
    {"'a' || char(127) || 'b@a.test'", R_CHARS, IN_BOTH},
    {"'a@a.test/phone'", R_BARE, IN_BOTH},
    {"'a.test/phone'", R_BARE, IN_BOTH},
    {"'a b@a.test'", R_BARE, IN_BOTH},
    {"'a@a.test '", R_BARE, IN_BOTH},
    {"'a@b@a.test'", R_AT, IN_BOTH},
    {"'@@a.test'", R_AT, IN_BOTH},
    {"''", R_EMPTY, IN_BOTH},
    {"'@a.test'", R_EMPTY, IN_BOTH},
    {"'a@'", R_EMPTY, IN_BOTH},
    {"'@'", R_EMPTY, IN_BOTH},
    {"'a@A.test'", R_LOWER, IN_BOTH},
    {"'a@a.TEST'", R_LOWER, IN_BOTH},
    {"'A.TEST'", R_LOWER, IN_BOTH},
};

/* Writes every value to roster.jid and channel.owner, by INSERT and by
 * UPDATE OF the column, and checks the exact message of each refusal. */
static void check_jid_rules(sqlite3 *h)
{
    /* Each statement is head, value, tail. */
    static const struct {
        int where;
        const char *column, *insert[2], *update[2], *undo_insert, *undo_update;
    } ops[] = {
        {IN_ROSTER,
         "roster.jid",
         {"INSERT INTO roster (channel, jid) VALUES ('desk', ", ")"},
         {"UPDATE roster SET jid = ", " WHERE jid = 'ok@c.test'"},
         "DELETE FROM roster WHERE jid <> 'ok@c.test'",
         "UPDATE roster SET jid = 'ok@c.test'"},
        {IN_OWNER,
         "channel.owner",
         {"INSERT INTO channel (name, owner) VALUES ('t', ", ")"},
         {"UPDATE channel SET owner = ", " WHERE name = 'desk'"},
         "DELETE FROM channel WHERE name = 't'",
         "UPDATE channel SET owner = 'ok@c.test' WHERE name = 'desk'"},
    };
    char q[512], want[256];

    ck_assert_ptr_null(exec_db(h,
                               "INSERT INTO channel (name, owner) VALUES ('desk', 'ok@c.test');"
                               "INSERT INTO roster (channel, jid) VALUES ('desk', 'ok@c.test')"));
    for (size_t i = 0; i < CS_ARRAY_SIZE(jid_values); i++) {
        for (size_t o = 0; o < CS_ARRAY_SIZE(ops); o++) {
            if (!(jid_values[i].where & ops[o].where))
                continue;
            for (int update = 0; update <= 1; update++) {
                const char *e;
                const char *const *sql = update ? ops[o].update : ops[o].insert;
                snprintf(q, sizeof(q), "%s%s%s", sql[0], jid_values[i].value, sql[1]);
                e = exec_db(h, q);
                if (jid_values[i].rule == NULL) {
                    ck_assert_msg(e == NULL, "%s refused: %s", q, e);
                    ck_assert_ptr_null(
                        exec_db(h, update ? ops[o].undo_update : ops[o].undo_insert));
                } else {
                    snprintf(want, sizeof(want), "%s: %s", ops[o].column, jid_values[i].rule);
                    ck_assert_msg(e && strcmp(e, want) == 0, "%s: got '%s', want '%s'", q,
                                  e ? e : "accepted", want);
                }
            }
        }
    }
    /* Nothing refused was written. */
    ck_assert_int_eq(count_db(h, "SELECT count(*) FROM roster"), 1);
    ck_assert_int_eq(count_db(h, "SELECT count(*) FROM roster WHERE jid = 'ok@c.test'"), 1);
    ck_assert_int_eq(count_db(h, "SELECT count(*) FROM channel"), 1);
    ck_assert_int_eq(count_db(h, "SELECT count(*) FROM channel WHERE owner = 'ok@c.test'"), 1);
}

START_TEST(test_jid_rules)
{
    struct store *s = open_ok();
    check_jid_rules(store_handle(s));
    store_close(&s);
}
END_TEST

START_TEST(test_jid_rules_without_foreign_keys)
{
    struct store *s = open_ok();
    sqlite3 *raw;
    store_close(&s);
    raw = open_raw();
    check_jid_rules(raw);
    ck_assert_int_eq(sqlite3_close(raw), SQLITE_OK);
}
END_TEST

/* What migration 2 -> 3 adds; dropped again, the file is at version 2. */
static const char *const v3_objects[] = {
    "TRIGGER roster_jid_safe_insert",
    "TRIGGER roster_jid_safe_update",
    "TRIGGER channel_owner_safe_insert",
    "TRIGGER channel_owner_safe_update",
    "TRIGGER channel_delete_state",
    "TRIGGER channel_rename_state",
    "TRIGGER channel_delete_conversation",
    "TRIGGER channel_rename_conversation",
    "TRIGGER channel_rename_offline",
    "INDEX channel_by_owner",
    "INDEX channel_owned",
    "INDEX roster_pending",
    "INDEX channel_state_shown",
    "INDEX conversation_by_channel",
    "TABLE conversation",
    "TABLE channel_state",
};

/* What versions 11 (the cluster's front), 10 (property subscriptions)
 * and 9 (channel properties: columns) added, dropped first. */
#define DROP_V9                                                                                    \
    "DROP TABLE placement; DROP TABLE placement_log; DROP TABLE relay_route;"                      \
    "DROP TRIGGER channel_delete_propsub; DROP TRIGGER channel_rename_propsub;"                    \
    "DROP TABLE prop_subscription;"                                                                \
    "ALTER TABLE channel DROP COLUMN avatar; ALTER TABLE channel DROP COLUMN avatar_type;"         \
    "ALTER TABLE channel DROP COLUMN url; ALTER TABLE channel DROP COLUMN email;"                  \
    "ALTER TABLE channel DROP COLUMN description;"

/* A current database taken back to version 7 (user_version is the
 * caller's): what versions 9 and 8 added, dropped. */
#define TO_V7                                                                                      \
    DROP_V9 "DROP TRIGGER channel_listed_insert; DROP TRIGGER channel_listed_delete;"              \
            "DROP TRIGGER channel_listed_policy; DROP TABLE directory_size;"                       \
            "DROP INDEX channel_listed;"

/* What versions 4 (live administration), 5 (federation), 6 (users'
 * rosters) and 8 (the channel directory) added. */
static const char *const v4_objects[] = {
    "TRIGGER channel_listed_insert",
    "TRIGGER channel_listed_delete",
    "TRIGGER channel_listed_policy",
    "TABLE directory_size",
    "INDEX channel_listed",
    "TABLE pushed_item",
    "INDEX roster_by_jid",
    "TRIGGER channel_delete_lease",
    "TRIGGER channel_rename_lease",
    "TABLE node_lease",
    "TABLE remote_watcher",
    "TRIGGER channel_delete_via",
    "TRIGGER channel_rename_via",
    "TABLE watcher_via",
    "TRIGGER channel_log_insert",
    "TRIGGER channel_log_update",
    "TRIGGER channel_log_delete",
    "TRIGGER roster_log_insert",
    "TRIGGER roster_log_update",
    "TRIGGER roster_log_delete",
    "TRIGGER channel_delete_resource",
    "TRIGGER channel_rename_resource",
    "TABLE change_log",
    "TABLE log_control",
    "TABLE channel_resource",
    "TABLE stats",
};

static void downgrade_to_2(struct store *s)
{
    char q[256];
    ck_assert_ptr_null(exec(s, DROP_V9));
    for (size_t i = 0; i < CS_ARRAY_SIZE(v4_objects); i++) {
        snprintf(q, sizeof(q), "DROP %s", v4_objects[i]);
        ck_assert_ptr_null(exec(s, q));
    }
    for (size_t i = 0; i < CS_ARRAY_SIZE(v3_objects); i++) {
        const char *name = strchr(v3_objects[i], ' ') + 1;
        snprintf(q, sizeof(q), "SELECT count(*) FROM sqlite_master WHERE name = '%s'", name);
        ck_assert_msg(count_db(store_handle(s), q) == 1, "%s missing", v3_objects[i]);
        snprintf(q, sizeof(q), "DROP %s", v3_objects[i]);
        ck_assert_ptr_null(exec(s, q));
    }
    ck_assert_ptr_null(exec(s, "PRAGMA user_version = 2"));
}

START_TEST(test_upgrade_keeps_existing_rows)
{
    /* Rows written before version 3 that break its rules stay (chanstatd
     * skips and logs them); only new writes of the column are refused. */
    struct store *s = open_ok();
    downgrade_to_2(s);
    ck_assert_ptr_null(exec(s, "INSERT INTO channel (name, owner) VALUES ('desk', 'Bob@B.test');"
                               "INSERT INTO roster (channel, jid) VALUES ('desk', 'v@C.TEST');"
                               "INSERT INTO roster (channel, jid) VALUES ('desk', 'o''b@c.test')"));
    store_close(&s);

    s = open_ok();
    ck_assert_int_eq(store_schema_version(s), STORE_SCHEMA_VERSION);
    ck_assert_int_eq(count_db(store_handle(s), "SELECT count(*) FROM roster"), 2);
    ck_assert_ptr_null(exec(s, "UPDATE roster SET subscription = 'from' WHERE jid = 'v@C.TEST'"));
    ck_assert_ptr_null(exec(s, "UPDATE channel SET policy = 'closed' WHERE name = 'desk'"));
    ck_assert_str_eq(exec(s, "UPDATE roster SET jid = 'w@C.TEST' WHERE jid = 'v@C.TEST'"),
                     "roster.jid: " R_LOWER);
    ck_assert_str_eq(exec(s, "UPDATE channel SET owner = 'Bob@B.test'"), "channel.owner: " R_LOWER);
    /* An upsert is an INSERT first: chanstatd cannot write such a row. */
    ck_assert_str_eq(exec(s, "INSERT INTO roster (channel, jid) VALUES ('desk', 'v@C.TEST')"
                             " ON CONFLICT DO UPDATE SET subscription = 'both'"),
                     "roster.jid: " R_LOWER);
    ck_assert_ptr_null(exec(s, "UPDATE roster SET jid = 'v@c.test' WHERE jid = 'v@C.TEST'"));
    ck_assert_ptr_null(exec(s, "DELETE FROM roster WHERE jid = 'o''b@c.test'"));
    store_close(&s);
}
END_TEST

START_TEST(test_upgrade_6_to_7_drops_lease_index)
{
    /* A version-6 file: the lease rows stay, the unused index goes. */
    struct store *s = open_ok();
    ck_assert_ptr_null(exec(s, TO_V7 "CREATE INDEX node_lease_by_expiry ON node_lease(expires);"
                                     "PRAGMA user_version = 6;"
                                     "INSERT INTO channel (name) VALUES ('desk');"
                                     "INSERT INTO node_lease (channel, node, expires)"
                                     " VALUES ('desk', 'status.a.test', 1700000000)"));
    store_close(&s);
    s = open_ok();
    ck_assert_int_eq(store_schema_version(s), STORE_SCHEMA_VERSION);
    ck_assert_int_eq(count_db(store_handle(s), "SELECT count(*) FROM sqlite_master"
                                               " WHERE name = 'node_lease_by_expiry'"),
                     0);
    ck_assert_str_eq(one(s, "SELECT node || ' ' || expires FROM node_lease"),
                     "status.a.test 1700000000");
    store_close(&s);
}
END_TEST

START_TEST(test_internal_tables)
{
    struct store *s = open_ok();
    sqlite3 *raw;
    ck_assert_ptr_null(exec(s, "INSERT INTO channel (name, owner) VALUES ('desk', 'bob@b.test');"
                               "INSERT INTO channel (name) VALUES ('other')"));
    ck_assert_ptr_null(exec(s, "INSERT INTO channel_state (channel) VALUES ('other')"));
    ck_assert_str_eq(one(s, "SELECT last_seen || '/' || shown FROM channel_state"), "0/0");
    ck_assert_ptr_null(exec(s, "DELETE FROM channel_state"));
    ck_assert_ptr_null(
        exec(s, "INSERT INTO channel_state (channel, last_seen, shown) VALUES ('desk', 1700, 1)"));
    ck_assert_str_eq(exec(s, "INSERT INTO channel_state (channel) VALUES ('desk')"),
                     "UNIQUE constraint failed: channel_state.channel");
    ck_assert_str_eq(exec(s, "INSERT INTO channel_state (channel) VALUES ('nosuch')"),
                     "FOREIGN KEY constraint failed");
    ck_assert_str_eq(exec(s, "UPDATE channel_state SET shown = 2"),
                     "CHECK constraint failed: channel_state_shown_bool");
    ck_assert_str_eq(exec(s, "UPDATE channel_state SET last_seen = 'yesterday'"),
                     "cannot store TEXT value in INTEGER column channel_state.last_seen");
    ck_assert_str_eq(exec(s, "UPDATE channel_state SET shown = NULL"),
                     "NOT NULL constraint failed: channel_state.shown");
    ck_assert_ptr_null(exec(s, "INSERT INTO conversation (owner, contact, channel) VALUES "
                               "('bob@b.test', 'al@a.test', 'desk')"));
    ck_assert_str_eq(exec(s, "INSERT INTO conversation (owner, contact, channel) VALUES "
                             "('bob@b.test', 'al@a.test', 'desk')"),
                     "UNIQUE constraint failed: conversation.owner, conversation.contact");
    ck_assert_str_eq(exec(s, "INSERT INTO conversation (owner, contact, channel) VALUES "
                             "('bob@b.test', 'x@a.test', 'nosuch')"),
                     "FOREIGN KEY constraint failed");
    ck_assert_str_eq(exec(s, "INSERT INTO conversation (owner, contact, channel) VALUES "
                             "('bob@b.test', x'01', 'desk')"),
                     "cannot store BLOB value in TEXT column conversation.contact");
    ck_assert_str_eq(exec(s, "INSERT INTO conversation (owner, contact, channel) VALUES "
                             "('bob@b.test', NULL, 'desk')"),
                     "NOT NULL constraint failed: conversation.contact");
    ck_assert_ptr_null(exec(s, "INSERT INTO offline (channel, sender, stanza, bytes, stored)"
                               " VALUES ('desk', 'al@a.test', '<message/>', 10, 1)"));

    /* Foreign keys on: renaming and deleting carry the internal rows along. */
    ck_assert_ptr_null(exec(s, "UPDATE channel SET name = 'front' WHERE name = 'desk'"));
    ck_assert_str_eq(one(s, "SELECT (SELECT channel FROM channel_state) || (SELECT channel FROM"
                            " conversation) || (SELECT channel FROM offline)"),
                     "frontfrontfront");
    ck_assert_ptr_null(exec(s, "DELETE FROM channel WHERE name = 'front'"));
    ck_assert_str_eq(one(s, "SELECT (SELECT count(*) FROM channel_state) + (SELECT count(*) FROM"
                            " conversation) + (SELECT count(*) FROM offline)"),
                     "0");
    ck_assert_ptr_null(exec(s, "INSERT INTO channel (name) VALUES ('desk');"
                               "INSERT INTO channel_state (channel, shown) VALUES ('desk', 1);"
                               "INSERT INTO conversation (owner, contact, channel) VALUES "
                               "('bob@b.test', 'al@a.test', 'desk');"
                               "INSERT INTO offline (channel, sender, stanza, bytes, stored)"
                               " VALUES ('desk', 'al@a.test', '<message/>', 10, 1)"));
    store_close(&s);

    /* Foreign keys off, as in the sqlite3 shell: the triggers do the same
     * (before version 3 a rename left the stored messages behind). */
    raw = open_raw();
    ck_assert_ptr_null(exec_db(raw, "UPDATE channel SET name = 'front' WHERE name = 'desk'"));
    ck_assert_int_eq(count_db(raw, "SELECT count(*) FROM channel_state WHERE channel = 'front'"),
                     1);
    ck_assert_int_eq(count_db(raw, "SELECT count(*) FROM conversation WHERE channel = 'front'"), 1);
    ck_assert_int_eq(count_db(raw, "SELECT count(*) FROM offline WHERE channel = 'front'"), 1);
    ck_assert_ptr_null(exec_db(raw, "DELETE FROM channel WHERE name = 'front'"));
    ck_assert_int_eq(count_db(raw, "SELECT (SELECT count(*) FROM channel_state) + (SELECT count(*)"
                                   " FROM conversation) + (SELECT count(*) FROM offline)"),
                     0);
    ck_assert_int_eq(sqlite3_close(raw), SQLITE_OK);
}
END_TEST

START_TEST(test_trigger_statements_use_indexes)
{
    /* What the triggers and cascades run per channel rename or delete. */
    static const char *const q[] = {
        "DELETE FROM roster WHERE channel = 'x'",
        "UPDATE roster SET channel = 'y' WHERE channel = 'x'",
        "DELETE FROM offline WHERE channel = 'x'",
        "UPDATE offline SET channel = 'y' WHERE channel = 'x'",
        "DELETE FROM channel_state WHERE channel = 'x'",
        "UPDATE channel_state SET channel = 'y' WHERE channel = 'x'",
        "DELETE FROM conversation WHERE channel = 'x'",
        "UPDATE conversation SET channel = 'y' WHERE channel = 'x'",
        "SELECT 1 FROM channel WHERE name = 'x'",
    };
    struct store *s = open_ok();
    for (size_t i = 0; i < CS_ARRAY_SIZE(q); i++)
        ck_assert_int_ge(assert_indexed(store_handle(s), q[i]), 1);
    store_close(&s);
}
END_TEST

/* The roster and offline modules on a fresh store. */
struct handles {
    struct store *s;
    struct roster *r;
    struct offline *o;
    struct uroster *u;
    struct directory *d;
    sqlite3 *h;
    struct strbuf got; /* what the callbacks saw */
};

/* The roster sync only prepares statements here. */
static const struct privileges no_privileges;
static int no_write(void *ud, const char *xml, size_t len)
{
    (void)ud, (void)xml, (void)len;
    return 0;
}
static size_t no_room(void *ud)
{
    (void)ud;
    return 0;
}
static const struct out no_out = {no_write, no_room, NULL, NULL, NULL};

static void open_handles(struct handles *f)
{
    char err[256];
    memset(f, 0, sizeof(*f));
    f->s = open_ok();
    f->h = store_handle(f->s);
    f->r = roster_new(f->s, err, sizeof(err));
    ck_assert_msg(f->r != NULL, "%s", err);
    f->o = offline_new(f->s, err, sizeof(err));
    ck_assert_msg(f->o != NULL, "%s", err);
    f->u = uroster_new(f->s, f->r, "status.a.test", &no_out, &no_privileges, err, sizeof(err));
    ck_assert_msg(f->u != NULL, "%s", err);
    f->d = directory_new(f->s, err, sizeof(err));
    ck_assert_msg(f->d != NULL, "%s", err);
    strbuf_append_str(&f->got, "");
}

static void close_handles(struct handles *f)
{
    directory_free(&f->d);
    uroster_free(&f->u);
    offline_free(&f->o);
    roster_free(&f->r);
    store_close(&f->s);
    strbuf_free(&f->got);
}

/* What the callbacks wrote since the last call; then forgets it. */
static const char *got(struct handles *f)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf), "%s", f->got.data);
    f->got.len = 0;
    f->got.data[0] = '\0';
    return buf;
}

/* No statement of the handles was left running (every path resets). */
static void assert_idle(sqlite3 *h)
{
    for (sqlite3_stmt *st = sqlite3_next_stmt(h, NULL); st; st = sqlite3_next_stmt(h, st))
        ck_assert_msg(!sqlite3_stmt_busy(st), "left running: %s", sqlite3_sql(st));
}

static void on_channel(void *ud, const char *name, const char *owner, enum channel_policy p)
{
    strbuf_printf(&((struct handles *)ud)->got, "%s:%s:%s;", name, owner ? owner : "-",
                  channel_policy_name(p));
}

static void on_name(void *ud, const char *name)
{
    strbuf_printf(&((struct handles *)ud)->got, "%s;", name);
}

static void on_item(void *ud, const char *jid, const struct sub_row *row)
{
    strbuf_printf(&((struct handles *)ud)->got, "%s=%s%s;", jid, sub_state_name(row->state),
                  row->approved ? "+approved" : "");
}

static void on_message(void *ud, int64_t id, const char *sender, const char *stanza, int64_t stored)
{
    strbuf_printf(&((struct handles *)ud)->got, "%lld:%s:%zu:%lld;", (long long)id, sender,
                  strlen(stanza), (long long)stored);
}

/* A cursor kept the way a paced caller keeps it: cb overwrites the buffer
 * that was passed as after. */
struct cursor {
    struct handles *f;
    char last[64];
};

static void on_name_cursor(void *ud, const char *name)
{
    struct cursor *c = ud;
    on_name(c->f, name);
    snprintf(c->last, sizeof(c->last), "%s", name);
}

static void on_channel_cursor(void *ud, const char *name, const char *owner, enum channel_policy p)
{
    struct cursor *c = ud;
    on_channel(c->f, name, owner, p);
    snprintf(c->last, sizeof(c->last), "%s", name);
}

static void on_item_cursor(void *ud, const char *jid, const struct sub_row *row)
{
    struct cursor *c = ud;
    on_item(c->f, jid, row);
    snprintf(c->last, sizeof(c->last), "%s", jid);
}

START_TEST(test_queries_use_indexes)
{
    /* Every statement the two modules prepared, read back from the
     * connection: each looks its rows up through an index, except those
     * that read everything on purpose. */
    static const char *const whole_table[] = {
        "DELETE FROM offline WHERE stored < ?1", /* offline_expire */
        /* Every local watcher of a remote channel, once at start: what is
         * active, by definition. */
        "SELECT remote, jid, state FROM remote_watcher ORDER BY remote",
        /* Every lease a home granted, once at start: their deadlines are
         * then kept on the monotonic clock. */
        "SELECT channel, node, expires FROM node_lease",
        "UPDATE log_control SET quiet = 1", /* one row: around chanstatd's transactions */
        "UPDATE log_control SET quiet = 0",
        "SELECT listed FROM directory_size", /* one row, kept by triggers */
    };
    /* Pages from either end of an index: read in its order, stopped by
     * their LIMIT. */
    static const struct {
        const char *sql_part, *plan;
    } ordered[] = {
        {"policy <> 'closed' ORDER BY name LIMIT",
         "SCAN channel USING COVERING INDEX channel_listed"},
        {"policy <> 'closed' ORDER BY name DESC LIMIT",
         "SCAN channel USING COVERING INDEX channel_listed"},
    };
    /* The index each paged or capped query must use. */
    static const struct {
        const char *sql_part, *index;
    } uses[] = {
        {"pending_in = 1 LIMIT", "roster_pending"},
        {"owner IS NOT NULL AND name >", "channel_owned"},
        {"FROM channel WHERE owner = ?1", "channel_by_owner"},
        {"shown = 1 AND channel >", "channel_state_shown"},
        {"FROM channel_state WHERE channel = ?1", "sqlite_autoindex_channel_state_1"},
        {"FROM conversation WHERE owner = ?1 AND contact = ?2", "PRIMARY KEY"},
        {"jid > ?2 ORDER BY jid", "sqlite_autoindex_roster_1"},
        {"channel = ?1 AND stored < ?2", "offline_by_channel"},
        {"channel = ?1 AND id > ?2", "offline_by_channel"},
        {"WHERE r.jid = ?1", "roster_by_jid"},
        {"name FROM pushed_item WHERE user = ?1", "PRIMARY KEY"},
        {"FROM pushed_item WHERE channel = ?1", "pushed_item_by_channel"},
        {"DISTINCT jid FROM roster WHERE jid > ?1", "roster_by_jid"},
        {"DISTINCT user FROM pushed_item p WHERE user > ?1", "PRIMARY KEY"},
        {"policy <> 'closed' AND name > ?1", "COVERING INDEX channel_listed"},
        {"policy <> 'closed' AND name < ?1", "COVERING INDEX channel_listed"},
    };
    int found[CS_ARRAY_SIZE(uses)] = {0}, statements = 0, scans = 0;
    struct handles f;
    open_handles(&f);
    for (sqlite3_stmt *st = sqlite3_next_stmt(f.h, NULL); st; st = sqlite3_next_stmt(f.h, st)) {
        const char *sql = sqlite3_sql(st);
        bool skip = false;
        statements++;
        for (size_t i = 0; i < CS_ARRAY_SIZE(whole_table); i++)
            skip = skip || strcmp(sql, whole_table[i]) == 0;
        for (size_t i = 0; i < CS_ARRAY_SIZE(ordered); i++) {
            if (strstr(sql, ordered[i].sql_part) == NULL)
                continue;
            char q[1024];
            sqlite3_stmt *plan;
            snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
            ck_assert_int_eq(sqlite3_prepare_v2(f.h, q, -1, &plan, NULL), SQLITE_OK);
            ck_assert_int_eq(sqlite3_step(plan), SQLITE_ROW);
            ck_assert_str_eq((const char *)sqlite3_column_text(plan, 3), ordered[i].plan);
            ck_assert_int_eq(sqlite3_step(plan), SQLITE_DONE); /* no sort step */
            ck_assert_int_eq(sqlite3_finalize(plan), SQLITE_OK);
            skip = true;
            scans++;
        }
        if (skip)
            continue;
        assert_indexed(f.h, sql);
        for (size_t i = 0; i < CS_ARRAY_SIZE(uses); i++) {
            char q[1024];
            sqlite3_stmt *plan;
            if (strstr(sql, uses[i].sql_part) == NULL)
                continue;
            snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
            ck_assert_int_eq(sqlite3_prepare_v2(f.h, q, -1, &plan, NULL), SQLITE_OK);
            ck_assert_int_eq(sqlite3_step(plan), SQLITE_ROW);
            ck_assert_msg(strstr((const char *)sqlite3_column_text(plan, 3), uses[i].index),
                          "%s: plan '%s', want %s", sql, sqlite3_column_text(plan, 3),
                          uses[i].index);
            ck_assert_int_eq(sqlite3_finalize(plan), SQLITE_OK);
            found[i]++;
        }
    }
    for (size_t i = 0; i < CS_ARRAY_SIZE(uses); i++)
        ck_assert_msg(found[i] == 1, "%d statements with '%s'", found[i], uses[i].sql_part);
    ck_assert_int_ge(statements, 20);
    ck_assert_int_eq(scans, 2);
    close_handles(&f);
}
END_TEST

static void on_listed(void *ud, const char *name, const char *display)
{
    struct strbuf *sb = ud;
    strbuf_printf(sb, "%s%s%s ", name, display ? "=" : "", display ? display : "");
}

static const char *page(struct handles *f, const char *after, const char *before, int limit)
{
    int n = -1;
    f->got.len = 0;
    strbuf_append_str(&f->got, "");
    ck_assert_int_eq(directory_page(f->d, after, before, limit, on_listed, &f->got, &n), 0);
    ck_assert_int_ge(n, 0);
    return f->got.data;
}

static long long listed(struct handles *f)
{
    long long n = -1;
    ck_assert_int_eq(directory_count(f->d, &n), 0);
    return n;
}

START_TEST(test_directory_pages_and_count)
{
    /* Closed channels are never listed; the count follows every way a
     * channel comes, goes or changes policy, also by hand. */
    struct handles f;
    open_handles(&f);
    ck_assert_int_eq(listed(&f), 0);
    ck_assert_str_eq(page(&f, NULL, NULL, 10), "");
    ck_assert_ptr_null(exec(f.s, "INSERT INTO channel (name, policy, display_name) VALUES"
                                 " ('b', 'open', 'Bee & Co'), ('a', 'approve', NULL),"
                                 " ('c', 'closed', 'Hidden'), ('d', 'open', NULL),"
                                 " ('e', 'open', NULL)"));
    ck_assert_int_eq(listed(&f), 4);
    ck_assert_str_eq(page(&f, NULL, NULL, 10), "a b=Bee & Co d e ");
    ck_assert_str_eq(page(&f, NULL, NULL, 2), "a b=Bee & Co ");
    ck_assert_str_eq(page(&f, "b", NULL, 2), "d e ");
    ck_assert_str_eq(page(&f, "bb", NULL, 2), "d e "); /* a name not listed */
    ck_assert_str_eq(page(&f, "e", NULL, 2), "");
    ck_assert_str_eq(page(&f, NULL, "", 3), "b=Bee & Co d e "); /* the last page */
    ck_assert_str_eq(page(&f, NULL, "d", 3), "a b=Bee & Co ");
    ck_assert_str_eq(page(&f, NULL, "a", 3), "");
    ck_assert_str_eq(page(&f, NULL, NULL, 0), "");
    ck_assert_ptr_null(exec(f.s, "UPDATE channel SET policy = 'closed' WHERE name = 'd'"));
    ck_assert_ptr_null(exec(f.s, "UPDATE channel SET policy = 'approve' WHERE name = 'e'"));
    ck_assert_ptr_null(exec(f.s, "UPDATE channel SET policy = 'open' WHERE name = 'c'"));
    ck_assert_int_eq(listed(&f), 4);
    ck_assert_str_eq(page(&f, "b", NULL, 5), "c=Hidden e ");
    ck_assert_ptr_null(exec(f.s, "DELETE FROM channel WHERE name IN ('a', 'd')"));
    ck_assert_int_eq(listed(&f), 3);
    ck_assert_ptr_null(exec(f.s, "UPDATE channel SET name = 'z' WHERE name = 'b'"));
    ck_assert_int_eq(listed(&f), 3);
    ck_assert_str_eq(page(&f, NULL, NULL, 5), "c=Hidden e z=Bee & Co ");
    /* The count row deleted by hand: no count, pages still work. */
    ck_assert_ptr_null(exec(f.s, "DELETE FROM directory_size"));
    long long n;
    ck_assert_int_eq(directory_count(f.d, &n), CS_ENOTFOUND);
    ck_assert_str_eq(page(&f, NULL, NULL, 1), "c=Hidden ");
    close_handles(&f);
}
END_TEST

START_TEST(test_property_checks)
{
    /* What sqlite3 may write into a channel's properties (schema 9). */
    struct store *s = open_ok();
    ck_assert_ptr_null(exec(s, "INSERT INTO channel (name) VALUES ('desk')"));
    ck_assert_ptr_null(exec(s, "UPDATE channel SET description = 'x', email = 'a@b.test',"
                               " url = 'https://b.test/x', avatar_type = 'image/jpeg',"
                               " avatar = x'ffd8ffe000104a46'"));
    static const struct {
        const char *set, *check;
    } bad[] = {
        {"description = ''", "channel_description_length"},
        {"email = 'no-at'", "channel_email_shape"},
        {"email = 'a@b@c'", "channel_email_shape"},
        {"email = 'a b@c'", "channel_email_shape"},
        {"url = 'ftp://x'", "channel_url_shape"},
        {"url = 'https://a b'", "channel_url_shape"},
        {"avatar_type = 'image/gif'", "channel_avatar_type"},
        {"avatar_type = 'image/png'", "channel_avatar_image"}, /* JPEG bytes */
        {"avatar = x'0000000000000000'", "channel_avatar_image"},
        {"avatar = NULL", "channel_avatar_image"},      /* a type without bytes */
        {"avatar_type = NULL", "channel_avatar_image"}, /* bytes without a type */
        {"avatar = zeroblob(65537)", "channel_avatar_image"},
    };
    for (size_t i = 0; i < CS_ARRAY_SIZE(bad); i++) {
        char q[256], want[128];
        snprintf(q, sizeof(q), "UPDATE channel SET %s WHERE name = 'desk'", bad[i].set);
        snprintf(want, sizeof(want), "CHECK constraint failed: %s", bad[i].check);
        const char *got = exec(s, q);
        ck_assert_msg(got && strcmp(got, want) == 0, "%s: %s", bad[i].set, got ? got : "accepted");
    }
    ck_assert_str_eq(exec(s, "UPDATE channel SET avatar = 'text'"),
                     "cannot store TEXT value in BLOB column channel.avatar"); /* STRICT */
    ck_assert_ptr_null(exec(s, "UPDATE channel SET avatar = NULL, avatar_type = NULL,"
                               " description = NULL, email = NULL, url = NULL"));
    store_close(&s);
}
END_TEST

START_TEST(test_directory_count_at_upgrade)
{
    /* Channels made before version 8 are counted by the migration. */
    struct store *s = open_ok();
    ck_assert_ptr_null(exec(s, TO_V7 "PRAGMA user_version = 7;"
                                     "INSERT INTO channel (name, policy) VALUES ('a', 'open'),"
                                     " ('b', 'closed'), ('c', 'approve')"));
    store_close(&s);
    s = open_ok();
    ck_assert_str_eq(one(s, "SELECT listed FROM directory_size"), "2");
    ck_assert_ptr_null(exec(s, "INSERT INTO channel (name) VALUES ('d')"));
    ck_assert_str_eq(one(s, "SELECT listed FROM directory_size"), "3");
    store_close(&s);
}
END_TEST

START_TEST(test_pending_in_counts_up_to_limit)
{
    struct handles f;
    int n = -1;
    open_handles(&f);
    ck_assert_ptr_null(exec(f.s, "INSERT INTO channel (name) VALUES ('desk'), ('other');"
                                 "INSERT INTO roster (channel, jid, pending_in) VALUES"
                                 " ('desk', 'p1@c.test', 1), ('desk', 'p2@c.test', 1),"
                                 " ('desk', 'p3@c.test', 1), ('desk', 'p4@c.test', 1),"
                                 " ('desk', 'p5@c.test', 1), ('other', 'p1@c.test', 1),"
                                 " ('desk', 'w@c.test', 0);"
                                 "INSERT INTO roster (channel, jid, subscription, ask, pending_in)"
                                 " VALUES ('desk', 'q@c.test', 'none', 1, 1),"
                                 " ('desk', 'f@c.test', 'from', 0, 0)"));
    ck_assert_int_eq(roster_pending_in(f.r, "desk", 100, &n), 0);
    ck_assert_int_eq(n, 6);
    ck_assert_int_eq(roster_pending_in(f.r, "desk", 3, &n), 0);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(roster_pending_in(f.r, "desk", 6, &n), 0);
    ck_assert_int_eq(n, 6);
    ck_assert_int_eq(roster_pending_in(f.r, "other", 100, &n), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(roster_pending_in(f.r, "nosuch", 100, &n), 0);
    ck_assert_int_eq(n, 0);
    n = -1;
    ck_assert_int_eq(roster_pending_in(f.r, "desk", 0, &n), 0);
    ck_assert_int_eq(n, 0);
    n = -1;
    ck_assert_int_eq(roster_pending_in(f.r, "desk", -1, &n), 0); /* not "no limit" */
    ck_assert_int_eq(n, 0);
    assert_idle(f.h);
    close_handles(&f);
}
END_TEST

START_TEST(test_failures_are_reported_and_reset)
{
    /* A bind that fails (here: a value over the connection's length limit)
     * is an error, never a count or an empty page, and leaves every
     * statement ready for the next call. */
    struct handles f;
    const char *longname = "a-channel-name-longer-than-the-limit";
    int64_t seen = -1;
    bool shown = true;
    char *conv = (char *)&conv;
    int n = -1;
    open_handles(&f);
    ck_assert_ptr_null(exec(f.s, "INSERT INTO channel (name, owner) VALUES ('desk', 'b@o.test');"
                                 "INSERT INTO roster (channel, jid, pending_in) VALUES"
                                 " ('desk', 'p@c.test', 1);"
                                 "INSERT INTO channel_state VALUES ('desk', 5, 1);"
                                 "INSERT INTO conversation (owner, contact, channel) VALUES "
                                 "('b@o.test', 'p@c.test', 'desk');"
                                 "INSERT INTO offline (channel, sender, stanza, bytes, stored)"
                                 " VALUES ('desk', 'p@c.test', '<message/>', 10, 1)"));
    sqlite3_limit(f.h, SQLITE_LIMIT_LENGTH, 16);

    ck_assert_int_eq(roster_pending_in(f.r, longname, 10, &n), CS_EDB);
    ck_assert_int_eq(n, 0);
    n = -1;
    ck_assert_int_eq(roster_owned_page(f.r, longname, 10, on_channel, &f, &n), CS_EDB);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(roster_channels_of_owner(f.r, longname, 10, on_channel, &f), CS_EDB);
    ck_assert_int_eq(roster_state_get(f.r, longname, &seen, &shown), CS_EDB);
    ck_assert(seen == 0 && !shown);
    ck_assert_int_eq(roster_state_put(f.r, longname, 1, true), CS_EDB);
    n = -1;
    ck_assert_int_eq(roster_shown_page(f.r, longname, 10, on_name, &f, &n), CS_EDB);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(roster_conv_get(f.r, longname, "p@c.test", &conv, &conv_via), CS_EDB);
    ck_assert_ptr_null(conv);
    ck_assert_int_eq(roster_conv_put(f.r, longname, "p@c.test", "desk", NULL), CS_EDB);
    n = -1;
    ck_assert_int_eq(roster_items_page(f.r, longname, "", 10, on_item, &f, &n), CS_EDB);
    ck_assert_int_eq(n, 0);
    n = -1;
    ck_assert_int_eq(offline_each_bytes(f.o, longname, 0, 10, 100, on_message, &f, &n), CS_EDB);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(offline_expire_channel(f.o, longname, 100), CS_EDB);
    /* The older functions too: a failure is not "not found" or "empty". */
    {
        struct sub_row row = {SUB_BOTH, true}, none = {SUB_NONE, false};
        int count = -1;
        int64_t bytes = -1;
        ck_assert_int_eq(roster_get(f.r, longname, "p@c.test", &row), CS_EDB);
        ck_assert(row.state == SUB_NONE && !row.approved);
        row.state = SUB_FROM;
        ck_assert_int_eq(roster_put(f.r, longname, "p@c.test", &row), CS_EDB);
        ck_assert_int_eq(roster_put(f.r, longname, "p@c.test", &none), CS_EDB);
        ck_assert_int_eq(roster_find_channel(f.r, longname, on_channel, &f), CS_EDB);
        ck_assert_int_eq(roster_each_item(f.r, longname, on_item, &f), CS_EDB);
        ck_assert_int_eq(offline_put(f.o, longname, "p@c.test", "<message/>", 10, 1), CS_EDB);
        ck_assert_int_eq(offline_usage(f.o, longname, &count, &bytes), CS_EDB);
        ck_assert(count == 0 && bytes == 0);
        ck_assert_int_eq(offline_each(f.o, longname, 0, 10, on_message, &f), CS_EDB);
    }
    ck_assert_str_eq(got(&f), "");
    assert_idle(f.h);
    roster_tx_rollback(f.r);

    sqlite3_limit(f.h, SQLITE_LIMIT_LENGTH, 1000000);
    ck_assert_int_eq(roster_pending_in(f.r, "desk", 10, &n), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(roster_owned_page(f.r, "", 10, on_channel, &f, &n), 0);
    ck_assert_int_eq(roster_channels_of_owner(f.r, "b@o.test", 10, on_channel, &f), 0);
    ck_assert_int_eq(roster_state_get(f.r, "desk", &seen, &shown), 0);
    ck_assert(seen == 5 && shown);
    ck_assert_int_eq(roster_shown_page(f.r, "", 10, on_name, &f, &n), 0);
    ck_assert_int_eq(roster_conv_get(f.r, "b@o.test", "p@c.test", &conv, &conv_via), 0);
    ck_assert_str_eq(conv, "desk");
    free(conv);
    ck_assert_int_eq(roster_items_page(f.r, "desk", "", 10, on_item, &f, &n), 0);
    ck_assert_int_eq(offline_each_bytes(f.o, "desk", 0, 10, 100, on_message, &f, &n), 0);
    ck_assert_int_eq(offline_expire_channel(f.o, "desk", 100), 1);
    ck_assert_str_eq(got(&f), "desk:b@o.test:open;desk:b@o.test:open;desk;"
                              "p@c.test=None + Pending In;1:p@c.test:10:1;");
    ck_assert_int_eq(roster_find_channel(f.r, "desk", on_channel, &f), 0);
    ck_assert_int_eq(roster_each_item(f.r, "desk", on_item, &f), 0);
    ck_assert_str_eq(got(&f), "desk:b@o.test:open;p@c.test=None + Pending In;");
    ck_assert_int_eq(count_db(f.h, "SELECT count(*) FROM roster"), 1);
    assert_idle(f.h);
    close_handles(&f);
}
END_TEST

static const char channels_sql[] =
    "INSERT INTO channel (name, owner, policy) VALUES"
    " ('a', 'x@o.test', 'open'), ('b', NULL, 'open'), ('c', 'y@o.test', 'approve'),"
    " ('d', 'x@o.test', 'closed'), ('e', NULL, 'closed'), ('f', 'z@o.test', 'open'),"
    " ('g', NULL, 'open')";

START_TEST(test_owned_page)
{
    struct handles f;
    struct cursor c = {&f, ""};
    int n = -1;
    open_handles(&f);
    ck_assert_ptr_null(exec(f.s, channels_sql));
    ck_assert_int_eq(roster_owned_page(f.r, c.last, 2, on_channel_cursor, &c, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(got(&f), "a:x@o.test:open;c:y@o.test:approve;");
    ck_assert_int_eq(roster_owned_page(f.r, c.last, 2, on_channel_cursor, &c, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(got(&f), "d:x@o.test:closed;f:z@o.test:open;");
    assert_idle(f.h);
    ck_assert_int_eq(roster_owned_page(f.r, c.last, 2, on_channel_cursor, &c, &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_str_eq(got(&f), "");
    ck_assert_int_eq(roster_owned_page(f.r, NULL, 10, on_channel, &f, &n), 0);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(got(&f), "a:x@o.test:open;c:y@o.test:approve;d:x@o.test:closed;"
                              "f:z@o.test:open;");
    ck_assert_int_eq(roster_owned_page(f.r, "c", 10, on_channel, &f, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(got(&f), "d:x@o.test:closed;f:z@o.test:open;");
    n = -1;
    ck_assert_int_eq(roster_owned_page(f.r, "", 0, on_channel, &f, &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(roster_owned_page(f.r, "", -1, on_channel, &f, &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_str_eq(got(&f), "");
    close_handles(&f);
}
END_TEST

START_TEST(test_channels_of_owner)
{
    struct handles f;
    open_handles(&f);
    ck_assert_ptr_null(exec(f.s, channels_sql));
    ck_assert_int_eq(roster_channels_of_owner(f.r, "x@o.test", 10, on_channel, &f), 0);
    ck_assert_str_eq(got(&f), "a:x@o.test:open;d:x@o.test:closed;");
    ck_assert_int_eq(roster_channels_of_owner(f.r, "x@o.test", 1, on_channel, &f), 0);
    ck_assert_str_eq(got(&f), "a:x@o.test:open;");
    assert_idle(f.h);
    ck_assert_int_eq(roster_channels_of_owner(f.r, "z@o.test", 10, on_channel, &f), 0);
    ck_assert_str_eq(got(&f), "f:z@o.test:open;");
    ck_assert_int_eq(roster_channels_of_owner(f.r, "X@o.test", 10, on_channel, &f), 0);
    ck_assert_int_eq(roster_channels_of_owner(f.r, "nobody@o.test", 10, on_channel, &f), 0);
    ck_assert_int_eq(roster_channels_of_owner(f.r, NULL, 10, on_channel, &f), 0);
    ck_assert_int_eq(roster_channels_of_owner(f.r, "x@o.test", 0, on_channel, &f), 0);
    ck_assert_str_eq(got(&f), "");
    close_handles(&f);
}
END_TEST

START_TEST(test_items_page)
{
    struct handles f;
    struct cursor c = {&f, ""};
    int n = -1;
    open_handles(&f);
    ck_assert_ptr_null(exec(f.s, "INSERT INTO channel (name) VALUES ('desk'), ('other');"
                                 "INSERT INTO roster (channel, jid, subscription) VALUES"
                                 " ('desk', 'e@c.test', 'from'), ('desk', 'b@c.test', 'both'),"
                                 " ('desk', 'a.test', 'to'), ('other', 'c@c.test', 'from'),"
                                 " ('desk', 'd@c.test', 'none');"
                                 "INSERT INTO roster (channel, jid, approved) VALUES"
                                 " ('desk', 'c@c.test', 1)"));
    ck_assert_int_eq(roster_items_page(f.r, "desk", c.last, 2, on_item_cursor, &c, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(got(&f), "a.test=To;b@c.test=Both;");
    assert_idle(f.h);
    ck_assert_int_eq(roster_items_page(f.r, "desk", c.last, 2, on_item_cursor, &c, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(got(&f), "c@c.test=None+approved;d@c.test=None;");
    ck_assert_int_eq(roster_items_page(f.r, "desk", c.last, 2, on_item_cursor, &c, &n), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(got(&f), "e@c.test=From;");
    ck_assert_int_eq(roster_items_page(f.r, "desk", c.last, 2, on_item_cursor, &c, &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(roster_items_page(f.r, "desk", "b@c.test", 1, on_item, &f, &n), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(got(&f), "c@c.test=None+approved;");
    ck_assert_int_eq(roster_items_page(f.r, "nosuch", NULL, 2, on_item, &f, &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(roster_items_page(f.r, "desk", NULL, 0, on_item, &f, &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_str_eq(got(&f), "");
    close_handles(&f);
}
END_TEST

START_TEST(test_items_page_skips_unreadable_rows)
{
    /* Rows no RFC 6121 state maps to (only possible with the CHECKs
     * switched off) are skipped without ending the page early. */
    struct handles f;
    int n = -1;
    open_handles(&f);
    ck_assert_ptr_null(exec(f.s,
                            "INSERT INTO channel (name) VALUES ('desk');"
                            "PRAGMA ignore_check_constraints = ON;"
                            "INSERT INTO roster (channel, jid, subscription, ask) VALUES"
                            " ('desk', 'a@c.test', 'both', 1), ('desk', 'b@c.test', 'both', 1);"
                            "PRAGMA ignore_check_constraints = OFF;"
                            "INSERT INTO roster (channel, jid, subscription) VALUES"
                            " ('desk', 'c@c.test', 'from'), ('desk', 'd@c.test', 'to'),"
                            " ('desk', 'e@c.test', 'both')"));
    ck_assert_int_eq(roster_items_page(f.r, "desk", "", 2, on_item, &f, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(got(&f), "c@c.test=From;d@c.test=To;");
    /* Read one by one, such a row is an error, not a None. */
    {
        struct sub_row row = {SUB_BOTH, true};
        ck_assert_int_eq(roster_get(f.r, "desk", "a@c.test", &row), CS_EDB);
        ck_assert(row.state == SUB_NONE && !row.approved);
        ck_assert_int_eq(roster_get(f.r, "desk", "e@c.test", &row), 0);
        ck_assert(row.state == SUB_BOTH);
    }
    assert_idle(f.h);
    close_handles(&f);
}
END_TEST

START_TEST(test_state)
{
    struct handles f;
    int64_t seen = -1;
    bool shown = true;
    open_handles(&f);
    ck_assert_ptr_null(exec(f.s, channels_sql));
    ck_assert_int_eq(roster_state_get(f.r, "a", &seen, &shown), 0);
    ck_assert(seen == 0 && !shown);

    /* The write opens the caller's transaction: nothing is durable before
     * the commit. */
    ck_assert_int_ne(sqlite3_get_autocommit(f.h), 0);
    ck_assert_int_eq(roster_state_put(f.r, "a", 1700000000, true), 0);
    ck_assert_int_eq(sqlite3_get_autocommit(f.h), 0);
    ck_assert_int_eq(roster_state_put(f.r, "c", 12, false), 0);
    ck_assert_int_eq(roster_tx_commit(f.r), 0);
    ck_assert_int_ne(sqlite3_get_autocommit(f.h), 0);
    ck_assert_int_eq(roster_state_get(f.r, "a", &seen, &shown), 0);
    ck_assert(seen == 1700000000 && shown);
    ck_assert_int_eq(roster_state_get(f.r, "c", &seen, &shown), 0);
    ck_assert(seen == 12 && !shown);

    /* Replaced in place; one row per channel. */
    ck_assert_int_eq(roster_tx_begin(f.r), 0);
    ck_assert_int_eq(roster_state_put(f.r, "a", 1700000100, false), 0);
    ck_assert_int_eq(roster_tx_commit(f.r), 0);
    ck_assert_int_eq(roster_state_get(f.r, "a", &seen, &shown), 0);
    ck_assert(seen == 1700000100 && !shown);
    ck_assert_int_eq(count_db(f.h, "SELECT count(*) FROM channel_state"), 2);

    /* No such channel: refused, and the transaction goes on. */
    ck_assert_int_eq(roster_state_put(f.r, "nosuch", 1, true), CS_EDB);
    ck_assert_int_eq(roster_state_put(f.r, "d", 7, true), 0);
    ck_assert_int_eq(roster_tx_commit(f.r), 0);
    ck_assert_int_eq(roster_state_get(f.r, "d", &seen, &shown), 0);
    ck_assert(seen == 7 && shown);

    /* Uncommitted when the handle goes: rolled back. */
    ck_assert_int_eq(roster_state_put(f.r, "d", 8, false), 0);
    roster_free(&f.r);
    f.r = roster_new(f.s, NULL, 0);
    ck_assert_ptr_nonnull(f.r);
    ck_assert_int_eq(roster_state_get(f.r, "d", &seen, &shown), 0);
    ck_assert(seen == 7 && shown);
    assert_idle(f.h);
    close_handles(&f);
}
END_TEST

START_TEST(test_shown_page)
{
    struct handles f;
    struct cursor c = {&f, ""};
    int n = -1;
    open_handles(&f);
    ck_assert_ptr_null(exec(f.s, channels_sql));
    ck_assert_ptr_null(exec(f.s, "INSERT INTO channel_state (channel, shown) VALUES"
                                 " ('a', 1), ('b', 0), ('c', 1), ('d', 1), ('e', 0), ('g', 1)"));
    ck_assert_int_eq(roster_shown_page(f.r, c.last, 2, on_name_cursor, &c, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(got(&f), "a;c;");
    assert_idle(f.h);
    ck_assert_int_eq(roster_shown_page(f.r, c.last, 2, on_name_cursor, &c, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(got(&f), "d;g;");
    ck_assert_int_eq(roster_shown_page(f.r, c.last, 2, on_name_cursor, &c, &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(roster_shown_page(f.r, NULL, 10, on_name, &f, &n), 0);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(got(&f), "a;c;d;g;");
    ck_assert_int_eq(roster_shown_page(f.r, "", 0, on_name, &f, &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_str_eq(got(&f), "");
    close_handles(&f);
}
END_TEST

START_TEST(test_conversation)
{
    struct handles f;
    char *ch = (char *)&ch;
    open_handles(&f);
    ck_assert_ptr_null(exec(f.s, channels_sql));
    ck_assert_int_eq(roster_conv_get(f.r, "x@o.test", "al@a.test", &ch, &conv_via), 0);
    ck_assert_ptr_null(ch);
    ck_assert_int_eq(roster_conv_put(f.r, "x@o.test", "al@a.test", "a", NULL), 0);
    ck_assert_int_eq(sqlite3_get_autocommit(f.h), 0); /* the caller's transaction */
    ck_assert_int_eq(roster_conv_put(f.r, "x@o.test", "bo@a.test", "d", NULL), 0);
    ck_assert_int_eq(roster_conv_put(f.r, "y@o.test", "al@a.test", "c", NULL), 0);
    ck_assert_int_eq(roster_tx_commit(f.r), 0);
    ck_assert_int_eq(roster_conv_get(f.r, "x@o.test", "al@a.test", &ch, &conv_via), 0);
    ck_assert_str_eq(ch, "a");
    free(ch);
    ck_assert_int_eq(roster_conv_get(f.r, "y@o.test", "al@a.test", &ch, &conv_via), 0);
    ck_assert_str_eq(ch, "c");
    free(ch);

    /* The contact writes to another channel of the same owner. */
    ck_assert_int_eq(roster_conv_put(f.r, "x@o.test", "al@a.test", "d", NULL), 0);
    ck_assert_int_eq(roster_tx_commit(f.r), 0);
    ck_assert_int_eq(roster_conv_get(f.r, "x@o.test", "al@a.test", &ch, &conv_via), 0);
    ck_assert_str_eq(ch, "d");
    free(ch);
    ck_assert_int_eq(count_db(f.h, "SELECT count(*) FROM conversation"), 3);

    /* A channel that does not exist: only that statement is undone, the
     * transaction and its other writes stay. */
    ck_assert_int_eq(roster_conv_put(f.r, "y@o.test", "al@a.test", "a", NULL), 0);
    ck_assert_int_eq(roster_conv_put(f.r, "x@o.test", "al@a.test", "nosuch", NULL), CS_ENOTFOUND);
    ck_assert_int_eq(sqlite3_get_autocommit(f.h), 0);
    ck_assert_int_eq(roster_tx_commit(f.r), 0);
    ck_assert_int_eq(roster_conv_get(f.r, "y@o.test", "al@a.test", &ch, &conv_via), 0);
    ck_assert_str_eq(ch, "a");
    free(ch);
    ck_assert_int_eq(roster_conv_get(f.r, "x@o.test", "al@a.test", &ch, &conv_via), 0);
    ck_assert_str_eq(ch, "d");
    free(ch);

    /* A renamed channel is followed, a deleted one forgotten. */
    ck_assert_ptr_null(exec(f.s, "UPDATE channel SET name = 'dd' WHERE name = 'd'"));
    ck_assert_int_eq(roster_conv_get(f.r, "x@o.test", "bo@a.test", &ch, &conv_via), 0);
    ck_assert_str_eq(ch, "dd");
    free(ch);
    ck_assert_ptr_null(exec(f.s, "DELETE FROM channel WHERE name = 'dd'"));
    ck_assert_int_eq(roster_conv_get(f.r, "x@o.test", "bo@a.test", &ch, &conv_via), 0);
    ck_assert_ptr_null(ch);
    assert_idle(f.h);
    close_handles(&f);
}
END_TEST

START_TEST(test_writes_when_locked)
{
    /* Another writer holds the file: the write fails, nothing stays open
     * or bound, and it succeeds once the lock is gone. */
    struct handles f;
    sqlite3 *other;
    int64_t seen, t0;
    bool shown;
    unsigned long failed;
    cfg.busy_timeout_ms = 300;
    open_handles(&f);
    ck_assert_ptr_null(exec(f.s, channels_sql));
    ck_assert_int_eq(sqlite3_open(db, &other), SQLITE_OK);
    ck_assert_ptr_null(exec_db(other, "BEGIN IMMEDIATE"));
    /* The first write waits busy_timeout_ms, later ones fail at once
     * (the event loop must not stop per stanza), and every failure is
     * counted. */
    failed = store_failures();
    t0 = cs_now_ms();
    ck_assert_int_eq(roster_state_put(f.r, "a", 1, true), CS_EDB);
    ck_assert_int_ge(cs_now_ms() - t0, 290);
    ck_assert(store_locked(f.s));
    t0 = cs_now_ms();
    ck_assert_int_eq(roster_conv_put(f.r, "x@o.test", "al@a.test", "a", NULL), CS_EDB);
    ck_assert_int_lt(cs_now_ms() - t0, 100);
    ck_assert_uint_eq(store_failures(), failed + 2);
    ck_assert_int_ne(sqlite3_get_autocommit(f.h), 0);
    assert_idle(f.h);
    ck_assert_ptr_null(exec_db(other, "COMMIT"));
    ck_assert_int_eq(sqlite3_close(other), SQLITE_OK);
    ck_assert_int_eq(roster_state_put(f.r, "a", 1, true), 0);
    ck_assert_int_eq(roster_tx_commit(f.r), 0);
    ck_assert(!store_locked(f.s));
    ck_assert_int_eq(roster_state_get(f.r, "a", &seen, &shown), 0);
    ck_assert(seen == 1 && shown);
    /* store_nowait(): a write that could wait fails at once. */
    ck_assert_int_eq(sqlite3_open(db, &other), SQLITE_OK);
    ck_assert_ptr_null(exec_db(other, "BEGIN IMMEDIATE"));
    store_nowait(f.s, true);
    t0 = cs_now_ms();
    ck_assert_int_eq(roster_state_put(f.r, "a", 2, true), CS_EDB);
    ck_assert_int_lt(cs_now_ms() - t0, 100);
    ck_assert(!store_locked(f.s));
    store_nowait(f.s, false);
    ck_assert_ptr_null(exec_db(other, "COMMIT"));
    ck_assert_int_eq(sqlite3_close(other), SQLITE_OK);
    close_handles(&f);
}
END_TEST

/* Stores a message of exactly bytes bytes for channel; returns its id. */
static int64_t put_message(struct handles *f, const char *channel, size_t bytes, int64_t stored)
{
    char *stanza = xmalloc(bytes + 1);
    memset(stanza, 'm', bytes);
    stanza[bytes] = '\0';
    ck_assert_int_eq(offline_put(f->o, channel, "s@a.test", stanza, bytes, stored), 0);
    free(stanza);
    return sqlite3_last_insert_rowid(f->h);
}

START_TEST(test_each_bytes)
{
    struct handles f;
    int64_t id[5];
    int n = -1;
    open_handles(&f);
    ck_assert_ptr_null(exec(f.s, "INSERT INTO channel (name) VALUES ('desk'), ('other')"));
    id[0] = put_message(&f, "desk", 10, 1);
    put_message(&f, "other", 5, 1);
    id[1] = put_message(&f, "desk", 20, 2);
    id[2] = put_message(&f, "desk", 100, 3);
    id[3] = put_message(&f, "desk", 10, 4);
    id[4] = put_message(&f, "desk", 10, 5);

    /* 10 + 20 fit in 35; 100 more would not. */
    ck_assert_int_eq(offline_each_bytes(f.o, "desk", 0, 10, 35, on_message, &f, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(got(&f), "1:s@a.test:10:1;3:s@a.test:20:2;");
    assert_idle(f.h);
    /* A message bigger than max_bytes goes alone. */
    ck_assert_int_eq(offline_each_bytes(f.o, "desk", id[1], 10, 35, on_message, &f, &n), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(got(&f), "4:s@a.test:100:3;");
    ck_assert_int_eq(offline_each_bytes(f.o, "desk", id[2], 10, 35, on_message, &f, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(got(&f), "5:s@a.test:10:4;6:s@a.test:10:5;");
    ck_assert_int_eq(offline_each_bytes(f.o, "desk", id[4], 10, 35, on_message, &f, &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_str_eq(got(&f), "");

    /* Exactly max_bytes is not more than max_bytes. */
    ck_assert_int_eq(offline_each_bytes(f.o, "desk", 0, 10, 30, on_message, &f, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(got(&f), "1:s@a.test:10:1;3:s@a.test:20:2;");
    ck_assert_int_eq(offline_each_bytes(f.o, "desk", 0, 10, 29, on_message, &f, &n), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(got(&f), "1:s@a.test:10:1;");
    /* max_bytes 0: one message per call. */
    ck_assert_int_eq(offline_each_bytes(f.o, "desk", 0, 10, 0, on_message, &f, &n), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(got(&f), "1:s@a.test:10:1;");
    ck_assert_int_eq(offline_each_bytes(f.o, "desk", id[1], 10, 0, on_message, &f, &n), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(got(&f), "4:s@a.test:100:3;");
    /* The limit still applies; no overflow near SIZE_MAX. */
    ck_assert_int_eq(offline_each_bytes(f.o, "desk", 0, 3, SIZE_MAX, on_message, &f, &n), 0);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(offline_each_bytes(f.o, "desk", 0, 10, SIZE_MAX, on_message, &f, &n), 0);
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(offline_each_bytes(f.o, "desk", 0, 10, SIZE_MAX - 15, on_message, &f, &n), 0);
    ck_assert_int_eq(n, 5);
    n = -1;
    ck_assert_int_eq(offline_each_bytes(f.o, "desk", 0, 0, 1000, on_message, &f, &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(offline_each_bytes(f.o, "desk", 0, -1, 1000, on_message, &f, &n), 0);
    ck_assert_int_eq(n, 0);
    got(&f);
    assert_idle(f.h);
    close_handles(&f);
}
END_TEST

START_TEST(test_expire_channel)
{
    struct handles f;
    int count;
    int64_t bytes;
    open_handles(&f);
    ck_assert_ptr_null(exec(f.s, "INSERT INTO channel (name) VALUES ('desk'), ('other')"));
    for (int64_t t = 100; t <= 300; t += 100) {
        put_message(&f, "desk", 10, t);
        put_message(&f, "other", 10, t);
    }
    ck_assert_int_eq(offline_expire_channel(f.o, "desk", 250), 2);
    ck_assert_int_eq(offline_usage(f.o, "desk", &count, &bytes), 0);
    ck_assert_int_eq(count, 1);
    ck_assert_int_eq(offline_usage(f.o, "other", &count, &bytes), 0);
    ck_assert_int_eq(count, 3);
    ck_assert_int_eq(offline_expire_channel(f.o, "desk", 250), 0);
    ck_assert_int_eq(offline_expire_channel(f.o, "desk", 300), 0); /* before, not at */
    ck_assert_int_eq(offline_expire_channel(f.o, "nosuch", 1000), 0);
    ck_assert_int_eq(offline_expire_channel(f.o, "other", 101), 1);
    ck_assert_int_eq(offline_expire(f.o, 1000), 3);
    assert_idle(f.h);
    close_handles(&f);
}
END_TEST

/* SQLite's allocator, failing every allocation once oom_countdown reaches
 * 0 (and counting down while it is positive; -1: never fails). */
static sqlite3_mem_methods real_mem;
static int oom_countdown = -1;
static bool oom_hit;

static void *oom_malloc(int n)
{
    if (oom_countdown == 0) {
        oom_hit = true;
        return NULL;
    }
    if (oom_countdown > 0)
        oom_countdown--;
    return real_mem.xMalloc(n);
}

static void *oom_realloc(void *p, int n)
{
    if (oom_countdown == 0) {
        oom_hit = true;
        return NULL;
    }
    if (oom_countdown > 0)
        oom_countdown--;
    return real_mem.xRealloc(p, n);
}

static void oom_install(void)
{
    sqlite3_mem_methods m;
    ck_assert_int_eq(sqlite3_shutdown(), SQLITE_OK);
    ck_assert_int_eq(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem), SQLITE_OK);
    m = real_mem;
    m.xMalloc = oom_malloc;
    m.xRealloc = oom_realloc;
    ck_assert_int_eq(sqlite3_config(SQLITE_CONFIG_MALLOC, &m), SQLITE_OK);
    /* Every allocation through the methods above, none from lookaside. */
    ck_assert_int_eq(sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0), SQLITE_OK);
    ck_assert_int_eq(sqlite3_initialize(), SQLITE_OK);
}

static void oom_remove(void)
{
    ck_assert_int_eq(sqlite3_shutdown(), SQLITE_OK);
    ck_assert_int_eq(sqlite3_config(SQLITE_CONFIG_MALLOC, &real_mem), SQLITE_OK);
    ck_assert_int_eq(sqlite3_initialize(), SQLITE_OK);
}

enum oom_call {
    OOM_OWNED,
    OOM_OF_OWNER,
    OOM_SHOWN,
    OOM_ITEMS,
    OOM_CONV,
    OOM_PENDING,
    OOM_BYTES,
    OOM_PUT_NONE
};

/* One call; its callback output (or the value read) goes to f->got. */
static int oom_run(struct handles *f, enum oom_call c, int *n)
{
    char *ch = NULL;
    int rc;
    *n = -1;
    switch (c) {
    case OOM_OWNED: return roster_owned_page(f->r, "", 10, on_channel, f, n);
    case OOM_OF_OWNER: *n = 0; return roster_channels_of_owner(f->r, "x@o.test", 10, on_channel, f);
    case OOM_SHOWN: return roster_shown_page(f->r, "", 10, on_name, f, n);
    case OOM_ITEMS: return roster_items_page(f->r, "a", "", 10, on_item, f, n);
    case OOM_PENDING:
        rc = roster_pending_in(f->r, "a", 10, n);
        if (rc == 0)
            strbuf_printf(&f->got, "%d", *n);
        else
            ck_assert_int_eq(*n, 0);
        *n = 0;
        return rc;
    case OOM_CONV:
        *n = 0;
        rc = roster_conv_get(f->r, "x@o.test", "al@a.test", &ch, &conv_via);
        if (rc == 0)
            strbuf_printf(&f->got, "%s", ch ? ch : "(none)");
        else
            ck_assert_ptr_null(ch);
        free(ch);
        return rc;
    case OOM_BYTES: return offline_each_bytes(f->o, "a", 0, 10, 1000, on_message, f, n);
    case OOM_PUT_NONE: {
        /* An admin row (it has a name) falls back to None and stays. */
        static const struct sub_row none = {SUB_NONE, false};
        *n = 0;
        return roster_put(f->r, "b", "n@c.test", &none);
    }
    }
    return CS_EINVAL;
}

START_TEST(test_out_of_memory)
{
    /* Each read, with SQLite's k-th allocation failing for k = 0, 1, ...:
     * it either succeeds with the whole answer, or reports CS_EDB having
     * passed only real rows (a prefix of the answer, *n_r of them), and
     * never a NULL where a value was stored.  Statements stay usable. */
    static const char *const want[] = {
        [OOM_OWNED] = "a:x@o.test:open;c:y@o.test:approve;d:x@o.test:closed;f:z@o.test:open;",
        [OOM_OF_OWNER] = "a:x@o.test:open;d:x@o.test:closed;",
        [OOM_SHOWN] = "a;c;",
        [OOM_ITEMS] = "k@c.test=From;l@c.test=None + Pending In;m@c.test=Both;",
        [OOM_CONV] = "a",
        [OOM_PENDING] = "1",
        [OOM_BYTES] = "1:s@a.test:10:1;2:s@a.test:10:2;",
        [OOM_PUT_NONE] = "",
    };
    struct handles f;
    oom_install();
    open_handles(&f);
    ck_assert_ptr_null(exec(f.s, channels_sql));
    ck_assert_ptr_null(exec(
        f.s,
        "INSERT INTO channel_state (channel, shown) VALUES"
        " ('a', 1), ('b', 0), ('c', 1);"
        "INSERT INTO conversation (owner, contact, channel) VALUES ('x@o.test', 'al@a.test', 'a');"
        "INSERT INTO roster (channel, jid, subscription, pending_in) VALUES"
        " ('a', 'k@c.test', 'from', 0), ('a', 'l@c.test', 'none', 1),"
        " ('a', 'm@c.test', 'both', 0);"
        "INSERT INTO roster (channel, jid, name) VALUES ('b', 'n@c.test', 'N');"
        "INSERT INTO offline (channel, sender, stanza, bytes, stored)"
        " VALUES ('a', 's@a.test', '<message/>', 10, 1),"
        " ('a', 's@a.test', '<message/>', 10, 2)"));
    for (size_t c = 0; c < CS_ARRAY_SIZE(want); c++) {
        int k, n, rc = CS_EINVAL, failures = 0;
        for (k = 0; k < 10000; k++) {
            const char *out;
            ck_assert_ptr_null(exec(f.s, "UPDATE roster SET subscription = 'from'"
                                         " WHERE jid = 'n@c.test'"));
            oom_hit = false;
            oom_countdown = k;
            rc = oom_run(&f, (enum oom_call)c, &n);
            oom_countdown = -1;
            if (c == OOM_PUT_NONE && rc == 0)
                ck_assert_msg(count_db(f.h, "SELECT count(*) FROM roster WHERE jid = 'n@c.test'"
                                            " AND subscription = 'none' AND name = 'N'") == 1,
                              "failing allocation %d: roster_put succeeded, row unchanged", k);
            out = got(&f);
            if (rc == 0) {
                ck_assert_msg(strcmp(out, want[c]) == 0, "call %zu, failing allocation %d: '%s'", c,
                              k, out);
            } else {
                ck_assert_msg(rc == CS_EDB, "call %zu: %d", c, rc);
                ck_assert_msg(strncmp(out, want[c], strlen(out)) == 0,
                              "call %zu, failing allocation %d: '%s' is not a prefix of '%s'", c, k,
                              out, want[c]);
                /* *n_r counts exactly the rows passed (one ';' each). */
                for (const char *p = out; (p = strchr(p, ';')) != NULL; p++)
                    n--;
                ck_assert_msg(n == 0, "call %zu, failing allocation %d: *n_r off by %d", c, k, n);
                failures++;
            }
            assert_idle(f.h);
            if (!oom_hit)
                break; /* ran to the end without a failing allocation */
        }
        ck_assert_msg(!oom_hit, "call %zu never finished", c);
        ck_assert_int_eq(rc, 0);
        ck_assert_msg(failures > 0, "call %zu: no allocation failed", c);
    }
    close_handles(&f);
    oom_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_fresh_and_reopen);
    tcase_add_test(tc, test_newer_schema);
    tcase_add_test(tc, test_upgrade_6_to_7_drops_lease_index);
    tcase_add_test(tc, test_directory_count_at_upgrade);
    tcase_add_test(tc, test_property_checks);
    tcase_add_test(tc, test_not_a_database);
    tcase_add_test(tc, test_missing_directory);
    tcase_add_test(tc, test_read_only);
    tcase_add_test(tc, test_failed_migration_rolls_back);
    tcase_add_test(tc, test_failed_migration_conflicting_channel);
    tcase_add_test(tc, test_synchronous_normal);
    tcase_add_test(tc, test_hand_edits);
    tcase_add_test(tc, test_hand_edits_without_foreign_keys);
    tcase_add_test(tc, test_jid_rules);
    tcase_add_test(tc, test_jid_rules_without_foreign_keys);
    tcase_add_test(tc, test_upgrade_keeps_existing_rows);
    tcase_add_test(tc, test_internal_tables);
    tcase_add_test(tc, test_trigger_statements_use_indexes);
    suite_add_tcase(s, tc);

    tc = tcase_create("roster");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_queries_use_indexes);
    tcase_add_test(tc, test_directory_pages_and_count);
    tcase_add_test(tc, test_pending_in_counts_up_to_limit);
    tcase_add_test(tc, test_failures_are_reported_and_reset);
    tcase_add_test(tc, test_owned_page);
    tcase_add_test(tc, test_channels_of_owner);
    tcase_add_test(tc, test_items_page);
    tcase_add_test(tc, test_items_page_skips_unreadable_rows);
    tcase_add_test(tc, test_state);
    tcase_add_test(tc, test_shown_page);
    tcase_add_test(tc, test_conversation);
    tcase_add_test(tc, test_writes_when_locked);
    suite_add_tcase(s, tc);

    tc = tcase_create("offline");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_each_bytes);
    tcase_add_test(tc, test_expire_channel);
    suite_add_tcase(s, tc);

    tc = tcase_create("out of memory");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
