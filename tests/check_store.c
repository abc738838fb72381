/* check_store.c - opening, pragmas, migrations, and the schema's rules
 * for hand-written SQL. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_log.h"
#include "cs_store.h"
#include "testutil.h"

static char dir[64], db[128];
static struct config cfg;

static void setup(void)
{
    log_init(LOG_LEVEL_ERROR, false, "check_store");
    strcpy(dir, "/tmp/check_store.XXXXXX");
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

/* Runs q; returns NULL on success or SQLite's message. */
static const char *exec(struct store *s, const char *q)
{
    static char buf[256];
    char *msg = NULL;
    if (sqlite3_exec(store_handle(s), q, NULL, NULL, &msg) == SQLITE_OK)
        return NULL;
    snprintf(buf, sizeof(buf), "%s", msg);
    sqlite3_free(msg);
    return buf;
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
    ck_assert_ptr_null(exec(s, "PRAGMA user_version = 7"));
    store_close(&s);
    ck_assert_int_eq(store_open(db, &cfg, &s, err, sizeof(err)), CS_EDBVERSION);
    ck_assert_ptr_null(s);
    snprintf(want, sizeof(want),
             "database '%s' has schema version 7, newer than this chanstat supports (%d); "
             "upgrade chanstat",
             db, STORE_SCHEMA_VERSION);
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
    ck_assert_str_eq(err, "cannot open database '/nonexistent-dir/x.db': unable to open database file");
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
    ck_assert_int_eq(sqlite3_prepare_v2(raw,
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
    ck_assert_int_eq(sqlite3_exec(raw, "CREATE TABLE channel (x); PRAGMA user_version = 0", NULL,
                                  NULL, NULL),
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
    ck_assert_str_eq(one(s, "PRAGMA busy_timeout"), "1234");
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
     "channel_owner_is_bare_jid"},
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
    {"INSERT INTO roster (channel, jid) VALUES ('desk', 'v@c.test/res')", "roster_jid_is_bare_jid"},
    {"INSERT INTO roster (channel, jid) VALUES ('nosuch', 'v@c.test')", "roster.channel: no such channel"},
    {"INSERT INTO roster (channel, jid, ask) VALUES ('desk', 'v@c.test', 2)", "roster_ask_bool"},
    {"INSERT INTO roster (channel, jid) VALUES ('desk', '')", "roster_jid_is_bare_jid"},
    {"INSERT INTO roster (channel, jid) VALUES ('desk', '@c.test')", "roster_jid_is_bare_jid"},
    {"INSERT INTO roster (channel, jid) VALUES ('desk', 'v@')", "roster_jid_is_bare_jid"},
    {"INSERT INTO roster (channel, jid) VALUES ('desk', 'a@b@c.test')", "roster_jid_is_bare_jid"},
    {"INSERT INTO roster (channel, jid) VALUES ('desk', 'v w@c.test')", "roster_jid_is_bare_jid"},
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
    {"INSERT INTO channel (name, owner) VALUES ('y', '@b.test')", "channel_owner_is_bare_jid"},
    {"INSERT INTO channel (name, owner) VALUES ('y', 'a@b@c')", "channel_owner_is_bare_jid"},
    {"INSERT INTO channel (name, owner) VALUES ('y', 'a b@c')", "channel_owner_is_bare_jid"},
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
            ck_assert_msg(e && strstr(e, edits[i].error), "%s: got '%s', want '%s'",
                          edits[i].sql, e ? e : "accepted", edits[i].error);
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

int main(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_fresh_and_reopen);
    tcase_add_test(tc, test_newer_schema);
    tcase_add_test(tc, test_not_a_database);
    tcase_add_test(tc, test_missing_directory);
    tcase_add_test(tc, test_read_only);
    tcase_add_test(tc, test_failed_migration_rolls_back);
    tcase_add_test(tc, test_failed_migration_conflicting_channel);
    tcase_add_test(tc, test_synchronous_normal);
    tcase_add_test(tc, test_hand_edits);
    tcase_add_test(tc, test_hand_edits_without_foreign_keys);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
