/* check_admin.c - the admin operations behind chanstatctl: validation and
 * normalisation, exit-code categories, nothing written on failure, the
 * good paths, the change log they leave, and the JSON writer. */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cs_admin.h"
#include "cs_config.h"
#include "cs_error.h"
#include "cs_log.h"
#include "cs_store.h"
#include "cs_util.h"
#include "testutil.h"

static char dir[64], db[128];
static struct config cfg;
static struct store *store;
static char err[512];

static void setup(void)
{
    char e[256];
    log_init(LOG_LEVEL_ERROR, false, "check_admin");
    snprintf(dir, sizeof(dir), "%s", "/tmp/check_admin.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(db, sizeof(db), "%s/chanstat.db", dir);
    config_defaults(&cfg);
    cfg.busy_timeout_ms = 50;
    ck_assert_msg(store_open(db, &cfg, &store, e, sizeof(e)) == 0, "%s", e);
    err[0] = '\0';
}

static void teardown(void)
{
    char cmd[128];
    store_close(&store);
    config_deinit(&cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void exec_ok(const char *q)
{
    char *msg = NULL;
    int rc = sqlite3_exec(store_handle(store), q, NULL, NULL, &msg);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", q, msg ? msg : "?");
    sqlite3_free(msg);
}

static int64_t count(const char *q)
{
    sqlite3_stmt *st;
    int64_t n;
    ck_assert_int_eq(sqlite3_prepare_v2(store_handle(store), q, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* One text value of q (first row, first column), or "" for NULL. */
static const char *one(const char *q)
{
    static char buf[256];
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(store_handle(store), q, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(buf, sizeof(buf), "%s",
             sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
    sqlite3_finalize(st);
    return buf;
}

static int dump_row(void *ud, int n, char **vals, char **cols)
{
    struct strbuf *sb = ud;
    for (int i = 0; i < n; i++)
        strbuf_printf(sb, "%s=%s|", cols[i], vals[i] ? vals[i] : "NULL");
    strbuf_append_str(sb, "\n");
    return 0;
}

/* Every row of every table a command may write, and the row counts: two
 * dumps are equal when nothing was written.  Caller frees. */
static char *dump(void)
{
    static const char *const tables[] = {
        "channel", "roster", "offline", "change_log", "channel_state", "channel_resource", "stats",
    };
    struct strbuf sb = {0};
    strbuf_append_str(&sb, "");
    for (size_t i = 0; i < CS_ARRAY_SIZE(tables); i++) {
        char q[128];
        snprintf(q, sizeof(q), "SELECT * FROM %s ORDER BY 1, 2", tables[i]);
        strbuf_printf(&sb, "[%s]\n", tables[i]);
        ck_assert_int_eq(sqlite3_exec(store_handle(store), q, dump_row, &sb, NULL), SQLITE_OK);
    }
    return sb.data;
}

/* A desk with an owner, two roster rows, a stored message and state. */
static void fill(void)
{
    exec_ok("INSERT INTO channel (name, owner, policy) VALUES ('desk', 'bob@b.test', 'approve');"
            "INSERT INTO roster (channel, jid, subscription) VALUES ('desk', 'w@c.test', 'from');"
            "INSERT INTO roster (channel, jid, pending_in) VALUES ('desk', 'p@c.test', 1);"
            "INSERT INTO offline (channel, sender, stanza, bytes, stored)"
            "  VALUES ('desk', 'w@c.test', '<message/>', 10, 1700000000);"
            "INSERT INTO channel_state VALUES ('desk', 1700000000, 1);");
}

#define ASSERT_UNCHANGED(before)                                                                   \
    do {                                                                                           \
        char *after_ = dump();                                                                     \
        ck_assert_str_eq(before, after_);                                                          \
        free(after_);                                                                              \
    } while (0)

/* ---- Validation and normalisation ---- */

START_TEST(test_channel_names)
{
    /* The last three nodeprep refuses: bidi mix, no-break space, nothing left. */
    static const char *const bad[] = {
        "",       "front@desk", "a b",        "a/b",          "a:b",           "a'b",
        "a\"b",   "a<b",        "a&b",        "a\tb",         "a\x7f",         "\xff",
        "a\\40b", "A\\40B",     "\\40b.test", "\xd7\x90\x61", "a\xc2\xa0\x62", "\xc2\xad",
    };
    char *name;
    char long_name[1100];

    ck_assert_int_eq(admin_channel_name("Desk", &name, err, sizeof(err)), 0);
    ck_assert_str_eq(name, "desk");
    free(name);
    ck_assert_int_eq(admin_channel_name("J\xc3\x9crgen.DESK-1", &name, err, sizeof(err)), 0);
    ck_assert_str_eq(name, "j\xc3\xbcrgen.desk-1"); /* nodeprep, as jid_parse() */
    free(name);
    /* A backslash that escapes no '@' is an ordinary character. */
    ck_assert_int_eq(admin_channel_name("a\\5cb", &name, err, sizeof(err)), 0);
    free(name);
    for (size_t i = 0; i < CS_ARRAY_SIZE(bad); i++) {
        ck_assert_msg(admin_channel_name(bad[i], &name, err, sizeof(err)) == CS_EINVAL, "%s",
                      bad[i]);
        ck_assert_ptr_null(name);
        ck_assert_ptr_nonnull(strstr(err, "is not a valid channel name"));
        ck_assert_ptr_null(strchr(err, '\n'));
    }
    ck_assert_int_eq(admin_channel_name("a\\40b", &name, err, sizeof(err)), CS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "relay address"));
    /* Control characters are shown escaped in the message. */
    ck_assert_int_eq(admin_channel_name("a\nb", &name, err, sizeof(err)), CS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "'a\\x0ab'"));
    memset(long_name, 'a', sizeof(long_name));
    long_name[1023] = '\0';
    ck_assert_int_eq(admin_channel_name(long_name, &name, err, sizeof(err)), 0);
    free(name);
    long_name[1023] = 'a';
    long_name[1024] = '\0';
    ck_assert_int_eq(admin_channel_name(long_name, &name, err, sizeof(err)), CS_EINVAL);
}
END_TEST

START_TEST(test_jids)
{
    char *jid;
    ck_assert_int_eq(admin_bare_jid("Bob@B.Test.", true, &jid, err, sizeof(err)), 0);
    ck_assert_str_eq(jid, "bob@b.test");
    free(jid);
    ck_assert_int_eq(admin_bare_jid("example.NET", false, &jid, err, sizeof(err)), 0);
    ck_assert_str_eq(jid, "example.net");
    free(jid);

    ck_assert_int_eq(admin_bare_jid("bob@b.test/phone", false, &jid, err, sizeof(err)), CS_EINVAL);
    ck_assert_ptr_null(jid);
    ck_assert_str_eq(err, "'bob@b.test/phone' is not a bare JID");
    ck_assert_int_eq(admin_bare_jid("o'brien@b.test", false, &jid, err, sizeof(err)), CS_EINVAL);
    ck_assert_str_eq(err, "'o'brien@b.test' is not a valid JID");
    ck_assert_int_eq(admin_bare_jid("a@b@c.test", false, &jid, err, sizeof(err)), CS_EINVAL);
    ck_assert_int_eq(admin_bare_jid("@c.test", false, &jid, err, sizeof(err)), CS_EINVAL);
    ck_assert_int_eq(admin_bare_jid("", false, &jid, err, sizeof(err)), CS_EINVAL);
    ck_assert_int_eq(admin_bare_jid("a@b.test\r", false, &jid, err, sizeof(err)), CS_EINVAL);
    ck_assert_int_eq(admin_bare_jid("b.test", true, &jid, err, sizeof(err)), CS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "cannot be an owner"));
}
END_TEST

START_TEST(test_edit_checks)
{
    struct admin_channel_edit ce = {0};
    struct admin_item_edit ie = {0};
    const char *groups[2];
    char long_text[1100];

    ck_assert_int_eq(admin_channel_edit_check(&ce, err, sizeof(err)), 0);
    ce.policy = "maybe";
    ck_assert_int_eq(admin_channel_edit_check(&ce, err, sizeof(err)), CS_EINVAL);
    ck_assert_str_eq(err, "'maybe' is not a policy (open, approve or closed)");
    ce.policy = "Open"; /* the schema's values, exactly */
    ck_assert_int_eq(admin_channel_edit_check(&ce, err, sizeof(err)), CS_EINVAL);
    ce.policy = "closed";
    ce.display_name = "Front\ndesk";
    ck_assert_int_eq(admin_channel_edit_check(&ce, err, sizeof(err)), CS_EINVAL);
    ce.display_name = "caf\xc3";
    ck_assert_int_eq(admin_channel_edit_check(&ce, err, sizeof(err)), CS_EINVAL);
    memset(long_text, 'x', sizeof(long_text));
    long_text[1024] = '\0';
    ce.display_name = long_text;
    ck_assert_int_eq(admin_channel_edit_check(&ce, err, sizeof(err)), CS_EINVAL);
    long_text[1023] = '\0';
    ck_assert_int_eq(admin_channel_edit_check(&ce, err, sizeof(err)), 0);
    ce.display_name = "";
    ck_assert_int_eq(admin_channel_edit_check(&ce, err, sizeof(err)), 0);
    ce.owner = "bob@b.test";
    ce.no_owner = true;
    ck_assert_int_eq(admin_channel_edit_check(&ce, err, sizeof(err)), CS_EINVAL);
    ce.no_owner = false;
    ce.owner = "bob@b.test/x";
    ck_assert_int_eq(admin_channel_edit_check(&ce, err, sizeof(err)), CS_EINVAL);

    ck_assert_int_eq(admin_item_edit_check(&ie, err, sizeof(err)), 0);
    ie.subscription = "maybe";
    ck_assert_int_eq(admin_item_edit_check(&ie, err, sizeof(err)), CS_EINVAL);
    ck_assert_str_eq(err, "'maybe' is not a subscription (none, to, from or both)");
    ie.subscription = "both";
    ie.groups = groups;
    ie.n_groups = 1;
    groups[0] = "";
    ck_assert_int_eq(admin_item_edit_check(&ie, err, sizeof(err)), CS_EINVAL);
    groups[0] = "a\nb"; /* the separator */
    ck_assert_int_eq(admin_item_edit_check(&ie, err, sizeof(err)), CS_EINVAL);
    groups[0] = "Friends";
    groups[1] = "Friends";
    ie.n_groups = 2;
    ck_assert_int_eq(admin_item_edit_check(&ie, err, sizeof(err)), CS_EINVAL);
    groups[1] = "Fr\xc3\xbc"
                "nde";
    ck_assert_int_eq(admin_item_edit_check(&ie, err, sizeof(err)), 0);
    ie.name = "\x01";
    ck_assert_int_eq(admin_item_edit_check(&ie, err, sizeof(err)), CS_EINVAL);
}
END_TEST

START_TEST(test_exit_codes)
{
    ck_assert_int_eq(admin_exit_code(0), 0);
    ck_assert_int_eq(admin_exit_code(CS_EINVAL), ADMIN_EXIT_INVALID);
    ck_assert_int_eq(admin_exit_code(CS_EEXIST), ADMIN_EXIT_INVALID);
    ck_assert_int_eq(admin_exit_code(CS_ENOTFOUND), ADMIN_EXIT_NOTFOUND);
    ck_assert_int_eq(admin_exit_code(CS_EDB), ADMIN_EXIT_RUNTIME);
    ck_assert_int_eq(admin_exit_code(CS_EAGAIN), ADMIN_EXIT_RUNTIME);
    ck_assert_int_eq(admin_exit_code(CS_EREADONLY), ADMIN_EXIT_RUNTIME);
    ck_assert_int_eq(admin_exit_code(CS_EDBVERSION), ADMIN_EXIT_RUNTIME);
    ck_assert_int_eq(admin_exit_code(CS_ECONFIG), ADMIN_EXIT_USAGE);
    ck_assert_int_eq(ADMIN_EXIT_OK, 0);
    ck_assert_int_eq(ADMIN_EXIT_RUNTIME, 1);
    ck_assert_int_eq(ADMIN_EXIT_USAGE, 2);
    ck_assert_int_eq(ADMIN_EXIT_INVALID, 3);
    ck_assert_int_eq(ADMIN_EXIT_NOTFOUND, 4);
}
END_TEST

/* ---- Bad input writes nothing ---- */

static void no_cb_channel(void *ud, const struct admin_channel *c)
{
    ck_abort_msg("unexpected channel %s", c->name);
}

static void no_cb_item(void *ud, const struct admin_item *it)
{
    ck_abort_msg("unexpected row %s", it->jid);
}

static void no_cb_sub(void *ud, enum admin_sub_kind kind, const struct admin_item *it)
{
    ck_abort_msg("unexpected row %s", it->jid);
}

static void no_cb_message(void *ud, const struct admin_message *m)
{
    ck_abort_msg("unexpected message %lld", (long long)m->id);
}

START_TEST(test_bad_input_writes_nothing)
{
    struct admin_channel_edit ce = {0};
    struct admin_item_edit ie = {0};
    struct admin_channel ch;
    struct admin_item it;
    struct admin_removed rm;
    struct admin_channel_info info;
    struct admin_status st;
    enum admin_action action;
    const char *dup[] = {"G", "G"};
    int64_t n;
    char *before;

    fill();
    before = dump();

    /* channel add */
    ck_assert_int_eq(admin_channel_add(store, "bad name", &ce, &ch, err, sizeof(err)), CS_EINVAL);
    ck_assert_int_eq(admin_channel_add(store, "a\\40b", &ce, &ch, err, sizeof(err)), CS_EINVAL);
    ck_assert_int_eq(admin_channel_add(store, "Desk", &ce, &ch, err, sizeof(err)), CS_EEXIST);
    ck_assert_str_eq(err, "channel 'desk' already exists");
    ck_assert_int_eq(admin_exit_code(CS_EEXIST), 3);
    ce.policy = "maybe";
    ck_assert_int_eq(admin_channel_add(store, "new", &ce, &ch, err, sizeof(err)), CS_EINVAL);
    ce.policy = NULL;
    ce.owner = "bob@b.test/phone";
    ck_assert_int_eq(admin_channel_add(store, "new", &ce, &ch, err, sizeof(err)), CS_EINVAL);
    ce.owner = "b.test";
    ck_assert_int_eq(admin_channel_add(store, "new", &ce, &ch, err, sizeof(err)), CS_EINVAL);
    ce.owner = "o'brien@b.test";
    ck_assert_int_eq(admin_channel_add(store, "new", &ce, &ch, err, sizeof(err)), CS_EINVAL);
    ce.owner = NULL;
    ce.display_name = "x\x1b[2J";
    ck_assert_int_eq(admin_channel_add(store, "new", &ce, &ch, err, sizeof(err)), CS_EINVAL);
    ce.display_name = NULL;

    /* channel set */
    ce.policy = "closed";
    ck_assert_int_eq(admin_channel_set(store, "nosuch", &ce, &ch, &action, err, sizeof(err)),
                     CS_ENOTFOUND);
    ck_assert_str_eq(err, "no such channel 'nosuch'");
    ck_assert_int_eq(admin_channel_set(store, "a@b", &ce, &ch, &action, err, sizeof(err)),
                     CS_EINVAL);
    ce.policy = "maybe";
    ck_assert_int_eq(admin_channel_set(store, "desk", &ce, &ch, &action, err, sizeof(err)),
                     CS_EINVAL);
    ce.policy = NULL;
    ce.owner = "bob@b.test/x";
    ck_assert_int_eq(admin_channel_set(store, "desk", &ce, &ch, &action, err, sizeof(err)),
                     CS_EINVAL);
    ce.owner = NULL;

    /* channel remove, show */
    ck_assert_int_eq(admin_channel_remove(store, "nosuch", &rm, err, sizeof(err)), CS_ENOTFOUND);
    ck_assert_int_eq(admin_exit_code(CS_ENOTFOUND), 4);
    ck_assert_int_eq(admin_channel_remove(store, "a\\40b", &rm, err, sizeof(err)), CS_EINVAL);
    ck_assert_int_eq(admin_channel_show(store, "nosuch", &info, err, sizeof(err)), CS_ENOTFOUND);

    /* roster add, remove, list */
    ck_assert_int_eq(
        admin_roster_add(store, "nosuch", "v@c.test", &ie, &it, &action, err, sizeof(err)),
        CS_ENOTFOUND);
    ck_assert_int_eq(
        admin_roster_add(store, "desk", "v@c.test/r", &ie, &it, &action, err, sizeof(err)),
        CS_EINVAL);
    ck_assert_str_eq(err, "'v@c.test/r' is not a bare JID");
    ck_assert_int_eq(
        admin_roster_add(store, "desk", "v'x@c.test", &ie, &it, &action, err, sizeof(err)),
        CS_EINVAL);
    ck_assert_int_eq(
        admin_roster_add(store, "de sk", "v@c.test", &ie, &it, &action, err, sizeof(err)),
        CS_EINVAL);
    ie.subscription = "maybe";
    ck_assert_int_eq(
        admin_roster_add(store, "desk", "v@c.test", &ie, &it, &action, err, sizeof(err)),
        CS_EINVAL);
    ie.subscription = "from";
    ie.groups = dup;
    ie.n_groups = 2;
    ck_assert_int_eq(
        admin_roster_add(store, "desk", "w@c.test", &ie, &it, &action, err, sizeof(err)),
        CS_EINVAL);
    ie.n_groups = 0;
    ck_assert_int_eq(admin_roster_remove(store, "desk", "nobody@c.test", err, sizeof(err)),
                     CS_ENOTFOUND);
    ck_assert_str_eq(err, "'nobody@c.test' is not in the roster of channel 'desk'");
    ck_assert_int_eq(admin_roster_remove(store, "nosuch", "w@c.test", err, sizeof(err)),
                     CS_ENOTFOUND);
    ck_assert_int_eq(admin_roster_remove(store, "desk", "w@c.test/r", err, sizeof(err)), CS_EINVAL);
    ck_assert_int_eq(admin_roster_list(store, "nosuch", no_cb_item, NULL, err, sizeof(err)),
                     CS_ENOTFOUND);

    /* subscriptions, status, offline */
    ck_assert_int_eq(admin_subscriptions(store, "nosuch", no_cb_sub, NULL, err, sizeof(err)),
                     CS_ENOTFOUND);
    ck_assert_int_eq(admin_subscriptions(store, "a@b", no_cb_sub, NULL, err, sizeof(err)),
                     CS_EINVAL);
    ck_assert_int_eq(admin_status(store, "nosuch", &st, err, sizeof(err)), CS_ENOTFOUND);
    ck_assert_int_eq(admin_offline_list(store, "nosuch", no_cb_message, NULL, err, sizeof(err)),
                     CS_ENOTFOUND);
    ck_assert_int_eq(admin_offline_purge(store, "nosuch", &n, err, sizeof(err)), CS_ENOTFOUND);
    ck_assert_int_eq(admin_offline_purge(store, "a\\40b", &n, err, sizeof(err)), CS_EINVAL);

    ASSERT_UNCHANGED(before);
    free(before);
}
END_TEST

/* A failure after some rows were written rolls all of them back. */
START_TEST(test_failure_half_way_rolls_back)
{
    struct admin_removed rm;
    int64_t n;
    char *before;

    fill();
    /* Deleting a channel deletes its roster rows first, then its stored
     * messages: make the second step fail. */
    exec_ok("CREATE TRIGGER fail_offline BEFORE DELETE ON offline"
            "  BEGIN SELECT RAISE(ABORT, 'offline: disk on fire'); END;");
    before = dump();
    ck_assert_int_eq(admin_channel_remove(store, "desk", &rm, err, sizeof(err)), CS_EDB);
    ck_assert_ptr_nonnull(strstr(err, "disk on fire"));
    ck_assert_int_eq(admin_exit_code(CS_EDB), 1);
    ck_assert_int_eq(rm.roster_rows, 0);
    ck_assert_int_eq(admin_offline_purge(store, "desk", &n, err, sizeof(err)), CS_EDB);
    ck_assert_int_eq(n, 0);
    ASSERT_UNCHANGED(before);
    ck_assert(sqlite3_get_autocommit(store_handle(store)));
    free(before);
}
END_TEST

/* Another writer holding the lock past the busy timeout: CS_EAGAIN, and
 * nothing written. */
START_TEST(test_busy)
{
    struct admin_channel_edit ce = {0};
    struct admin_channel ch;
    sqlite3 *other;
    char *before = dump();

    ck_assert_int_eq(sqlite3_open(db, &other), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(admin_channel_add(store, "desk", &ce, &ch, err, sizeof(err)), CS_EAGAIN);
    ck_assert_ptr_nonnull(strstr(err, "locked"));
    ck_assert_int_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_close(other), SQLITE_OK);
    ASSERT_UNCHANGED(before);
    free(before);
}
END_TEST

/* ---- Good paths ---- */

START_TEST(test_channel_add_set_remove)
{
    struct admin_channel_edit ce = {
        .owner = "Bob@B.Test", .policy = "approve", .display_name = "Front desk \xe2\x98\x8e"};
    struct admin_channel ch;
    struct admin_removed rm;
    enum admin_action action;

    ck_assert_int_eq(admin_channel_add(store, "Desk", &ce, &ch, err, sizeof(err)), 0);
    ck_assert_str_eq(ch.name, "desk");
    ck_assert_str_eq(ch.owner, "bob@b.test");
    ck_assert_int_eq(ch.policy, POLICY_APPROVE);
    ck_assert_str_eq(ch.display_name, "Front desk \xe2\x98\x8e");
    ck_assert_int_gt(ch.created, 0);
    admin_channel_deinit(&ch);
    ck_assert_str_eq(one("SELECT owner FROM channel WHERE name = 'desk'"), "bob@b.test");
    /* Logged for chanstatd: chanstatctl's writes are not quiet. */
    ck_assert_int_eq(count("SELECT quiet FROM log_control"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM change_log WHERE kind = 'channel'"
                           " AND channel = 'desk' AND old IS NULL"),
                     1);

    /* Defaults: no owner, open. */
    ce = (struct admin_channel_edit){0};
    ck_assert_int_eq(admin_channel_add(store, "lobby", &ce, &ch, err, sizeof(err)), 0);
    ck_assert_ptr_null(ch.owner);
    ck_assert_ptr_null(ch.display_name);
    ck_assert_int_eq(ch.policy, POLICY_OPEN);
    admin_channel_deinit(&ch);

    /* set: only what changes is written. */
    exec_ok("DELETE FROM change_log");
    ce = (struct admin_channel_edit){.policy = "approve", .owner = "bob@b.test"};
    ck_assert_int_eq(admin_channel_set(store, "desk", &ce, &ch, &action, err, sizeof(err)), 0);
    ck_assert_int_eq(action, ADMIN_UNCHANGED);
    admin_channel_deinit(&ch);
    ck_assert_int_eq(count("SELECT count(*) FROM change_log"), 0);

    ce = (struct admin_channel_edit){.owner = "carol@c.test", .policy = "closed"};
    ck_assert_int_eq(admin_channel_set(store, "DESK", &ce, &ch, &action, err, sizeof(err)), 0);
    ck_assert_int_eq(action, ADMIN_UPDATED);
    ck_assert_str_eq(ch.owner, "carol@c.test");
    ck_assert_int_eq(ch.policy, POLICY_CLOSED);
    ck_assert_str_eq(ch.display_name, "Front desk \xe2\x98\x8e"); /* kept */
    admin_channel_deinit(&ch);
    /* Every log row of the edit carries the owner before it. */
    ck_assert_int_gt(count("SELECT count(*) FROM change_log"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM change_log WHERE old IS NOT 'bob@b.test'"), 0);

    ce = (struct admin_channel_edit){.no_owner = true, .display_name = ""};
    ck_assert_int_eq(admin_channel_set(store, "desk", &ce, &ch, &action, err, sizeof(err)), 0);
    ck_assert_ptr_null(ch.owner);
    ck_assert_ptr_null(ch.display_name);
    admin_channel_deinit(&ch);
    ck_assert_str_eq(one("SELECT owner FROM channel WHERE name = 'desk'"), "");

    /* remove takes the roster rows, stored messages and state with it,
     * and the roster rows' deletion is logged too. */
    exec_ok("INSERT INTO roster (channel, jid, subscription) VALUES ('desk', 'w@c.test', 'from');"
            "INSERT INTO offline (channel, sender, stanza, bytes, stored)"
            "  VALUES ('desk', 'w@c.test', '<message/>', 10, 1);"
            "INSERT INTO channel_state VALUES ('desk', 5, 1);"
            "INSERT INTO channel_resource VALUES ('desk', 'r', 'away', NULL, 0, 1);"
            "DELETE FROM change_log;");
    ck_assert_int_eq(admin_channel_remove(store, "Desk", &rm, err, sizeof(err)), 0);
    ck_assert_int_eq(rm.roster_rows, 1);
    ck_assert_int_eq(rm.offline_messages, 1);
    ck_assert_int_eq(count("SELECT count(*) FROM channel WHERE name = 'desk'"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM roster WHERE channel = 'desk'"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM offline WHERE channel = 'desk'"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM channel_state WHERE channel = 'desk'"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM channel_resource WHERE channel = 'desk'"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM change_log WHERE kind = 'roster'"
                           " AND jid = 'w@c.test' AND old = 'from'"),
                     1);
    ck_assert_int_eq(count("SELECT count(*) FROM change_log WHERE kind = 'channel'"), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM channel"), 1); /* lobby */
}
END_TEST

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Properties: validated before anything is written (CS_EINVAL: exit 3),
 * the avatar typed by its first bytes, "" removes a text, only what
 * changes is written. */
START_TEST(test_channel_properties)
{
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 1, 2};
    static const unsigned char jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F'};
    char png_path[96], jpeg_path[96], big_path[96], gif_path[96];
    unsigned char *big = xcalloc(ADMIN_AVATAR_MAX + 1, 1);
    struct admin_channel_edit ce = {.description = "Questions & <answers> \xc3\xa9",
                                    .email = "desk@a.test",
                                    .url = "https://a.test/desk",
                                    .avatar_file = png_path};
    struct admin_channel ch;
    enum admin_action action;
    char sha1[41];

    snprintf(png_path, sizeof(png_path), "%s/a.png", dir);
    snprintf(jpeg_path, sizeof(jpeg_path), "%s/a.jpg", dir);
    snprintf(big_path, sizeof(big_path), "%s/big.png", dir);
    snprintf(gif_path, sizeof(gif_path), "%s/a.gif", dir);
    write_file(png_path, png, sizeof(png));
    write_file(jpeg_path, jpeg, sizeof(jpeg));
    memcpy(big, png, sizeof(png));
    write_file(big_path, big, ADMIN_AVATAR_MAX + 1);
    write_file(gif_path, "GIF89a\0\0\0\0", 10);
    ck_assert_int_eq(admin_channel_add(store, "desk", &ce, &ch, err, sizeof(err)), 0);
    ck_assert_str_eq(ch.description, "Questions & <answers> \xc3\xa9");
    ck_assert_str_eq(ch.email, "desk@a.test");
    ck_assert_str_eq(ch.url, "https://a.test/desk");
    ck_assert_str_eq(ch.avatar_type, "image/png");
    ck_assert_int_eq(ch.avatar_bytes, (long)sizeof(png));
    cs_sha1_hex(png, sizeof(png), sha1);
    ck_assert_str_eq(ch.avatar_sha1, sha1);
    admin_channel_deinit(&ch);
    ck_assert_str_eq(one("SELECT hex(avatar) FROM channel WHERE name = 'desk'"),
                     "89504E470D0A1A0A0102");

    /* Bad input: refused with a message, nothing written. */
    const struct {
        struct admin_channel_edit e;
        const char *msg;
    } bad[] = {
        {{.avatar_file = big_path}, "larger than 65536 bytes"},
        {{.avatar_file = gif_path}, "not a PNG or JPEG image"},
        {{.avatar_file = "/nonexistent/a.png"}, "cannot read avatar"},
        {{.avatar_file = jpeg_path, .no_avatar = true}, "an avatar and no avatar at once"},
        {{.email = "no-at"}, "is not an e-mail address"},
        {{.email = "a@b@c"}, "is not an e-mail address"},
        {{.email = "a b@c"}, "is not an e-mail address"},
        {{.url = "ftp://a.test/"}, "is not a web address"},
        {{.url = "https://"}, "is not a web address"},
        {{.url = "https://a.test/<x>"}, "is not a web address"},
        {{.description = "bell\a"}, "a description is UTF-8 text"},
    };
    exec_ok("DELETE FROM change_log");
    for (size_t i = 0; i < CS_ARRAY_SIZE(bad); i++) {
        ck_assert_int_eq(
            admin_channel_set(store, "desk", &bad[i].e, &ch, &action, err, sizeof(err)), CS_EINVAL);
        ck_assert_msg(strstr(err, bad[i].msg) != NULL, "%zu: %s", i, err);
    }
    ck_assert_int_eq(count("SELECT count(*) FROM change_log"), 0);
    ck_assert_str_eq(one("SELECT avatar_type FROM channel WHERE name = 'desk'"), "image/png");

    /* The same values again: unchanged; a JPEG replaces the PNG. */
    ck_assert_int_eq(admin_channel_set(store, "desk", &ce, &ch, &action, err, sizeof(err)), 0);
    ck_assert_int_eq(action, ADMIN_UNCHANGED);
    admin_channel_deinit(&ch);
    ce = (struct admin_channel_edit){.avatar_file = jpeg_path, .url = ""};
    ck_assert_int_eq(admin_channel_set(store, "desk", &ce, &ch, &action, err, sizeof(err)), 0);
    ck_assert_int_eq(action, ADMIN_UPDATED);
    ck_assert_str_eq(ch.avatar_type, "image/jpeg");
    ck_assert_ptr_null(ch.url);
    ck_assert_str_eq(ch.email, "desk@a.test"); /* kept */
    admin_channel_deinit(&ch);
    ce = (struct admin_channel_edit){.no_avatar = true};
    ck_assert_int_eq(admin_channel_set(store, "desk", &ce, &ch, &action, err, sizeof(err)), 0);
    ck_assert_ptr_null(ch.avatar_type);
    ck_assert_str_eq(ch.avatar_sha1, "");
    admin_channel_deinit(&ch);
    ck_assert_int_eq(count("SELECT count(*) FROM channel WHERE avatar IS NULL"), 1);
    free(big);
}
END_TEST

/* A row stored before schema 3 with an owner the JID rules refuse keeps
 * its owner, and its other columns can still be set. */
START_TEST(test_set_legacy_owner)
{
    struct admin_channel_edit ce = {.policy = "closed"};
    struct admin_channel ch;
    enum admin_action action;

    exec_ok("DROP TRIGGER channel_owner_safe_insert;"
            "INSERT INTO channel (name, owner) VALUES ('old', 'Bob@B.TEST');");
    ck_assert_int_eq(admin_channel_set(store, "old", &ce, &ch, &action, err, sizeof(err)), 0);
    ck_assert_int_eq(action, ADMIN_UPDATED);
    ck_assert_str_eq(ch.owner, "Bob@B.TEST");
    admin_channel_deinit(&ch);
    ck_assert_str_eq(one("SELECT policy FROM channel WHERE name = 'old'"), "closed");
}
END_TEST

struct names {
    char buf[512];
    int n;
};

static void on_channel(void *ud, const struct admin_channel *c)
{
    struct names *nm = ud;
    size_t len = strlen(nm->buf);
    snprintf(nm->buf + len, sizeof(nm->buf) - len, "%s:%s:%s;", c->name, c->owner ? c->owner : "-",
             channel_policy_name(c->policy));
    nm->n++;
}

START_TEST(test_channel_list_show)
{
    struct names nm = {{0}, 0};
    struct admin_channel_info info;

    ck_assert_int_eq(admin_channel_list(store, no_cb_channel, NULL, err, sizeof(err)), 0);
    fill();
    exec_ok("INSERT INTO channel (name) VALUES ('alpha');"
            "INSERT INTO roster (channel, jid, ask) VALUES ('desk', 'o@c.test', 1);");
    ck_assert_int_eq(admin_channel_list(store, on_channel, &nm, err, sizeof(err)), 0);
    ck_assert_str_eq(nm.buf, "alpha:-:open;desk:bob@b.test:approve;");

    ck_assert_int_eq(admin_channel_show(store, "desk", &info, err, sizeof(err)), 0);
    ck_assert_str_eq(info.ch.name, "desk");
    ck_assert_int_eq(info.roster_rows, 3);
    ck_assert_int_eq(info.watchers, 1);
    ck_assert_int_eq(info.pending_in, 1);
    ck_assert_int_eq(info.pending_out, 1);
    ck_assert_int_eq(info.offline_messages, 1);
    ck_assert_int_eq(info.offline_bytes, 10);
    ck_assert_int_eq(info.last_seen, 1700000000);
    ck_assert(info.shown);
    admin_channel_deinit(&info.ch);

    ck_assert_int_eq(admin_channel_show(store, "alpha", &info, err, sizeof(err)), 0);
    ck_assert_int_eq(info.roster_rows, 0);
    ck_assert_int_eq(info.last_seen, 0);
    ck_assert(!info.shown);
    admin_channel_deinit(&info.ch);
}
END_TEST

static void item_state(struct admin_item *it, char *buf, size_t size)
{
    snprintf(buf, size, "%s ask=%d in=%d approved=%d", it->subscription, it->ask, it->pending_in,
             it->approved);
}

START_TEST(test_roster_add_update)
{
    const char *groups[] = {"Friends", "Work"};
    struct admin_item_edit ie = {
        .subscription = "from", .name = "Walter", .groups = groups, .n_groups = 2};
    enum admin_action action;
    struct admin_item it;
    char s[64];

    fill();
    exec_ok("DELETE FROM change_log");
    ck_assert_int_eq(
        admin_roster_add(store, "Desk", "New@C.Test", &ie, &it, &action, err, sizeof(err)), 0);
    ck_assert_int_eq(action, ADMIN_ADDED);
    ck_assert_str_eq(it.channel, "desk");
    ck_assert_str_eq(it.jid, "new@c.test");
    ck_assert_str_eq(it.subscription, "from");
    ck_assert_str_eq(it.name, "Walter");
    ck_assert_str_eq(it.groups, "Friends\nWork");
    admin_item_deinit(&it);
    /* The encoding of doc/schema.md: newline-separated. */
    ck_assert_str_eq(one("SELECT groups = 'Friends' || char(10) || 'Work' FROM roster"
                         " WHERE jid = 'new@c.test'"),
                     "1");
    ck_assert_int_eq(count("SELECT count(*) FROM change_log WHERE kind = 'roster'"
                           " AND jid = 'new@c.test' AND old IS NULL"),
                     1);

    /* Updating keeps what is not given. */
    ie = (struct admin_item_edit){.subscription = "both"};
    ck_assert_int_eq(
        admin_roster_add(store, "desk", "new@c.test", &ie, &it, &action, err, sizeof(err)), 0);
    ck_assert_int_eq(action, ADMIN_UPDATED);
    ck_assert_str_eq(it.name, "Walter");
    ck_assert_str_eq(it.groups, "Friends\nWork");
    admin_item_deinit(&it);
    ck_assert_int_eq(count("SELECT count(*) FROM change_log WHERE kind = 'roster'"
                           " AND jid = 'new@c.test' AND old = 'from'"),
                     1);

    /* The same again: nothing written, nothing logged. */
    exec_ok("DELETE FROM change_log");
    ck_assert_int_eq(
        admin_roster_add(store, "desk", "new@c.test", &ie, &it, &action, err, sizeof(err)), 0);
    ck_assert_int_eq(action, ADMIN_UNCHANGED);
    admin_item_deinit(&it);
    ck_assert_int_eq(count("SELECT count(*) FROM change_log"), 0);

    /* Granting a pending request: pending_in goes. */
    ie = (struct admin_item_edit){.subscription = "from"};
    ck_assert_int_eq(
        admin_roster_add(store, "desk", "p@c.test", &ie, &it, &action, err, sizeof(err)), 0);
    item_state(&it, s, sizeof(s));
    ck_assert_str_eq(s, "from ask=0 in=0 approved=0");
    admin_item_deinit(&it);

    /* to ends a pending outbound request; a pre-approval with none or to
     * stays, and goes with from or both. */
    exec_ok("INSERT INTO roster (channel, jid, ask, approved) VALUES ('desk', 'q@c.test', 1, 1)");
    ie = (struct admin_item_edit){.subscription = "to"};
    ck_assert_int_eq(
        admin_roster_add(store, "desk", "q@c.test", &ie, &it, &action, err, sizeof(err)), 0);
    item_state(&it, s, sizeof(s));
    ck_assert_str_eq(s, "to ask=0 in=0 approved=1");
    admin_item_deinit(&it);
    ie = (struct admin_item_edit){.subscription = "both"};
    ck_assert_int_eq(
        admin_roster_add(store, "desk", "q@c.test", &ie, &it, &action, err, sizeof(err)), 0);
    item_state(&it, s, sizeof(s));
    ck_assert_str_eq(s, "both ask=0 in=0 approved=0");
    admin_item_deinit(&it);

    /* none keeps a pending inbound request. */
    exec_ok("INSERT INTO roster (channel, jid, pending_in) VALUES ('desk', 'r@c.test', 1)");
    ie = (struct admin_item_edit){.subscription = "none", .name = "R"};
    ck_assert_int_eq(
        admin_roster_add(store, "desk", "r@c.test", &ie, &it, &action, err, sizeof(err)), 0);
    item_state(&it, s, sizeof(s));
    ck_assert_str_eq(s, "none ask=0 in=1 approved=0");
    admin_item_deinit(&it);

    /* "" removes the name; new groups replace the old ones. */
    groups[0] = "Only";
    ie = (struct admin_item_edit){.name = "", .groups = groups, .n_groups = 1};
    ck_assert_int_eq(
        admin_roster_add(store, "desk", "new@c.test", &ie, &it, &action, err, sizeof(err)), 0);
    ck_assert_ptr_null(it.name);
    ck_assert_str_eq(it.groups, "Only");
    admin_item_deinit(&it);

    /* A domain contact. */
    ie = (struct admin_item_edit){0};
    ck_assert_int_eq(
        admin_roster_add(store, "desk", "Example.NET", &ie, &it, &action, err, sizeof(err)), 0);
    ck_assert_str_eq(it.jid, "example.net");
    ck_assert_str_eq(it.subscription, "none");
    admin_item_deinit(&it);
}
END_TEST

START_TEST(test_roster_remove)
{
    fill();
    exec_ok("DELETE FROM change_log");
    ck_assert_int_eq(admin_roster_remove(store, "Desk", "W@C.TEST", err, sizeof(err)), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM roster WHERE jid = 'w@c.test'"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM roster WHERE jid = 'p@c.test'"), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM change_log WHERE kind = 'roster'"
                           " AND jid = 'w@c.test' AND old = 'from'"),
                     1);
    ck_assert_int_eq(admin_roster_remove(store, "desk", "w@c.test", err, sizeof(err)),
                     CS_ENOTFOUND);
}
END_TEST

static void on_item(void *ud, const struct admin_item *it)
{
    struct names *nm = ud;
    size_t len = strlen(nm->buf);
    snprintf(nm->buf + len, sizeof(nm->buf) - len, "%s/%s/%s/%s;", it->channel, it->jid,
             it->subscription, it->groups ? it->groups : "-");
    nm->n++;
}

START_TEST(test_roster_list)
{
    struct names nm = {{0}, 0};
    fill();
    exec_ok("INSERT INTO channel (name) VALUES ('other');"
            "INSERT INTO roster (channel, jid, groups) VALUES ('other', 'x@c.test', 'A');"
            "INSERT INTO roster (channel, jid, subscription, groups)"
            "  VALUES ('desk', 'a@c.test', 'to', 'G1' || char(10) || 'G2');");
    ck_assert_int_eq(admin_roster_list(store, "DESK", on_item, &nm, err, sizeof(err)), 0);
    ck_assert_str_eq(nm.buf, "desk/a@c.test/to/G1\nG2;desk/p@c.test/none/-;desk/w@c.test/from/-;");
    ck_assert_int_eq(nm.n, 3);
}
END_TEST

START_TEST(test_groups)
{
    const char *p = "\nA\n\nB c\n", *g;
    size_t len;
    ck_assert(admin_group_next(&p, &g, &len));
    ck_assert_int_eq(len, 1);
    ck_assert_int_eq(g[0], 'A');
    ck_assert(admin_group_next(&p, &g, &len));
    ck_assert_int_eq(len, 3);
    ck_assert_int_eq(strncmp(g, "B c", 3), 0);
    ck_assert(!admin_group_next(&p, &g, &len));
    p = NULL;
    ck_assert(!admin_group_next(&p, &g, &len));
    p = "";
    ck_assert(!admin_group_next(&p, &g, &len));
}
END_TEST

static void on_sub(void *ud, enum admin_sub_kind kind, const struct admin_item *it)
{
    static const char *const k[] = {"W", "I", "O"};
    struct names *nm = ud;
    size_t len = strlen(nm->buf);
    snprintf(nm->buf + len, sizeof(nm->buf) - len, "%s:%s;", k[kind], it->jid);
}

START_TEST(test_subscriptions)
{
    struct names nm = {{0}, 0};
    struct admin_channel ch;
    ck_assert_int_eq(
        admin_channel_add(store, "empty", &(struct admin_channel_edit){0}, &ch, err, sizeof(err)),
        0);
    admin_channel_deinit(&ch);
    ck_assert_int_eq(admin_subscriptions(store, "empty", no_cb_sub, NULL, err, sizeof(err)), 0);
    fill();
    exec_ok("INSERT INTO roster (channel, jid, subscription) VALUES ('desk', 'b@c.test', 'both');"
            "INSERT INTO roster (channel, jid, subscription, ask) VALUES ('desk', 'f@c.test',"
            "  'from', 1);"
            "INSERT INTO roster (channel, jid, subscription, pending_in) VALUES ('desk',"
            "  't@c.test', 'to', 1);"
            "INSERT INTO roster (channel, jid, subscription) VALUES ('desk', 'z@c.test', 'to');");
    ck_assert_int_eq(admin_subscriptions(store, "desk", on_sub, &nm, err, sizeof(err)), 0);
    ck_assert_str_eq(nm.buf, "W:b@c.test;W:f@c.test;W:w@c.test;I:p@c.test;I:t@c.test;O:f@c.test;");
}
END_TEST

START_TEST(test_status)
{
    struct admin_status st;
    fill();
    /* No resources: unavailable, with last seen. */
    ck_assert_int_eq(admin_status(store, "desk", &st, err, sizeof(err)), 0);
    ck_assert_str_eq(st.channel, "desk");
    ck_assert_str_eq(st.owner, "bob@b.test");
    ck_assert_ptr_null(st.best);
    ck_assert_int_eq(st.n_res, 0);
    ck_assert_int_eq(st.last_seen, 1700000000);
    ck_assert(st.shown);
    admin_status_deinit(&st);

    /* Highest priority wins; ties go to the most recent; a negative
     * priority still counts for status. */
    exec_ok("INSERT INTO channel_resource VALUES"
            "  ('desk', 'phone', 'away', 'In a meeting', 5, 100),"
            "  ('desk', 'laptop', 'dnd', NULL, 5, 200),"
            "  ('desk', 'tablet', 'chat', NULL, 1, 300),"
            "  ('desk', 'gone', 'unavailable', NULL, 9, 400)");
    ck_assert_int_eq(admin_status(store, "desk", &st, err, sizeof(err)), 0);
    ck_assert_int_eq(st.n_res, 4);
    ck_assert_ptr_nonnull(st.best);
    ck_assert_str_eq(st.best->resource, "laptop");
    ck_assert_str_eq(st.best->show, "dnd");
    ck_assert_str_eq(st.res[1].resource, "phone");
    ck_assert_str_eq(st.res[1].status, "In a meeting");
    ck_assert_str_eq(st.res[2].resource, "tablet");
    ck_assert_str_eq(st.res[3].resource, "gone");
    admin_status_deinit(&st);

    exec_ok("DELETE FROM channel_resource WHERE show <> 'unavailable';"
            "INSERT INTO channel_resource VALUES ('desk', 'bot', 'available', NULL, -1, 50)");
    ck_assert_int_eq(admin_status(store, "desk", &st, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(st.best);
    ck_assert_str_eq(st.best->resource, "bot");
    admin_status_deinit(&st);

    exec_ok("DELETE FROM channel_resource WHERE resource = 'bot'");
    ck_assert_int_eq(admin_status(store, "desk", &st, err, sizeof(err)), 0);
    ck_assert_ptr_null(st.best);
    ck_assert_int_eq(st.n_res, 1);
    admin_status_deinit(&st);
}
END_TEST

static void on_message(void *ud, const struct admin_message *m)
{
    struct names *nm = ud;
    size_t len = strlen(nm->buf);
    snprintf(nm->buf + len, sizeof(nm->buf) - len, "%lld:%s:%s:%lld:%lld;", (long long)m->id,
             m->channel, m->sender, (long long)m->stored, (long long)m->bytes);
}

START_TEST(test_offline)
{
    struct names nm = {{0}, 0};
    int64_t n;
    fill();
    exec_ok("INSERT INTO channel (name) VALUES ('other');"
            "INSERT INTO offline (channel, sender, stanza, bytes, stored)"
            "  VALUES ('other', 'x@c.test', '<message/>', 7, 1700000001);"
            "INSERT INTO offline (channel, sender, stanza, bytes, stored)"
            "  VALUES ('desk', 'y@c.test', '<message>hi</message>', 21, 1700000002);");
    ck_assert_int_eq(admin_offline_list(store, NULL, on_message, &nm, err, sizeof(err)), 0);
    ck_assert_str_eq(nm.buf, "1:desk:w@c.test:1700000000:10;2:other:x@c.test:1700000001:7;"
                             "3:desk:y@c.test:1700000002:21;");
    nm.buf[0] = '\0';
    ck_assert_int_eq(admin_offline_list(store, "Desk", on_message, &nm, err, sizeof(err)), 0);
    ck_assert_str_eq(nm.buf, "1:desk:w@c.test:1700000000:10;3:desk:y@c.test:1700000002:21;");

    ck_assert_int_eq(admin_offline_purge(store, "desk", &n, err, sizeof(err)), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(count("SELECT count(*) FROM offline"), 1);
    ck_assert_int_eq(admin_offline_purge(store, "desk", &n, err, sizeof(err)), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(admin_offline_list(store, "desk", no_cb_message, NULL, err, sizeof(err)), 0);
}
END_TEST

static void on_stat(void *ud, const char *name, int64_t value, int64_t updated)
{
    struct names *nm = ud;
    size_t len = strlen(nm->buf);
    snprintf(nm->buf + len, sizeof(nm->buf) - len, "%s=%lld@%lld;", name, (long long)value,
             (long long)updated);
}

START_TEST(test_stats)
{
    struct names nm = {{0}, 0};
    ck_assert_int_eq(admin_stats(store, on_stat, &nm, err, sizeof(err)), 0);
    ck_assert_str_eq(nm.buf, "");
    exec_ok("INSERT INTO stats VALUES ('watchers', 3, 1700000000), ('channels', 2, 1700000001)");
    ck_assert_int_eq(admin_stats(store, on_stat, &nm, err, sizeof(err)), 0);
    ck_assert_str_eq(nm.buf, "channels=2@1700000001;watchers=3@1700000000;");
}
END_TEST

/* ---- Output helpers ---- */

START_TEST(test_time_iso)
{
    char buf[ADMIN_TIME_LEN];
    ck_assert_str_eq(admin_time_iso(0, buf), "1970-01-01T00:00:00Z");
    ck_assert_str_eq(admin_time_iso(1700000000, buf), "2023-11-14T22:13:20Z");
    ck_assert_str_eq(admin_time_iso(INT64_MAX, buf), "9223372036854775807");
}
END_TEST

static const char *escaped(const char *s)
{
    static char out[256];
    struct strbuf sb = {0};
    admin_json_escape(&sb, s);
    snprintf(out, sizeof(out), "%s", sb.data);
    strbuf_free(&sb);
    return out;
}

START_TEST(test_json_escape)
{
    ck_assert_str_eq(escaped(""), "\"\"");
    ck_assert_str_eq(escaped("plain"), "\"plain\"");
    ck_assert_str_eq(escaped("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
    ck_assert_str_eq(escaped("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
    ck_assert_str_eq(escaped("\x01\x1f\x7f"), "\"\\u0001\\u001f\\u007f\"");
    /* Non-ASCII stays UTF-8; U+2028 too (valid JSON). */
    ck_assert_str_eq(escaped("j\xc3\xbcrgen \xe2\x80\xa8 \xf0\x9f\x93\x9e"),
                     "\"j\xc3\xbcrgen \xe2\x80\xa8 \xf0\x9f\x93\x9e\"");
    /* Bytes that are no UTF-8 (a lone continuation byte, an overlong '/',
     * a truncated sequence, a surrogate) become U+FFFD, one per byte. */
    ck_assert_str_eq(escaped("a\x80z"), "\"a\xef\xbf\xbdz\"");
    ck_assert_str_eq(escaped("\xc0\xaf"), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    ck_assert_str_eq(escaped("x\xe2\x82"), "\"x\xef\xbf\xbd\xef\xbf\xbd\"");
    ck_assert_str_eq(escaped("\xed\xa0\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
}
END_TEST

START_TEST(test_json_document)
{
    struct admin_json j = {0};
    admin_json_open(&j, NULL, '{');
    admin_json_str(&j, "name", "desk \"1\"");
    admin_json_str(&j, "owner", NULL);
    admin_json_int(&j, "n", -42);
    admin_json_bool(&j, "shown", true);
    admin_json_time(&j, "seen", 0);
    admin_json_time(&j, "created", 1700000000);
    admin_json_open(&j, "empty", '[');
    admin_json_close(&j, ']');
    admin_json_open(&j, "list", '[');
    admin_json_open(&j, NULL, '{');
    admin_json_str(&j, "k\n", "v");
    admin_json_close(&j, '}');
    admin_json_str(&j, NULL, "x");
    admin_json_close(&j, ']');
    admin_json_open(&j, "obj", '{');
    admin_json_close(&j, '}');
    admin_json_close(&j, '}');
    ck_assert_str_eq(j.out.data, "{\n"
                                 "  \"name\": \"desk \\\"1\\\"\",\n"
                                 "  \"owner\": null,\n"
                                 "  \"n\": -42,\n"
                                 "  \"shown\": true,\n"
                                 "  \"seen\": null,\n"
                                 "  \"created\": \"2023-11-14T22:13:20Z\",\n"
                                 "  \"empty\": [],\n"
                                 "  \"list\": [\n"
                                 "    {\n"
                                 "      \"k\\n\": \"v\"\n"
                                 "    },\n"
                                 "    \"x\"\n"
                                 "  ],\n"
                                 "  \"obj\": {}\n"
                                 "}\n");
    strbuf_free(&j.out);
}
END_TEST

static Suite *admin_suite(void)
{
    Suite *s = suite_create("admin");
    TCase *tc = tcase_create("validation");
    tcase_add_test(tc, test_channel_names);
    tcase_add_test(tc, test_jids);
    tcase_add_test(tc, test_edit_checks);
    tcase_add_test(tc, test_exit_codes);
    tcase_add_test(tc, test_groups);
    suite_add_tcase(s, tc);

    tc = tcase_create("database");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_bad_input_writes_nothing);
    tcase_add_test(tc, test_failure_half_way_rolls_back);
    tcase_add_test(tc, test_busy);
    tcase_add_test(tc, test_channel_add_set_remove);
    tcase_add_test(tc, test_channel_properties);
    tcase_add_test(tc, test_set_legacy_owner);
    tcase_add_test(tc, test_channel_list_show);
    tcase_add_test(tc, test_roster_add_update);
    tcase_add_test(tc, test_roster_remove);
    tcase_add_test(tc, test_roster_list);
    tcase_add_test(tc, test_subscriptions);
    tcase_add_test(tc, test_status);
    tcase_add_test(tc, test_offline);
    tcase_add_test(tc, test_stats);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_add_test(tc, test_time_iso);
    tcase_add_test(tc, test_json_escape);
    tcase_add_test(tc, test_json_document);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(admin_suite());
}
