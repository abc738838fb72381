/* check_node.c - the node without sockets: batches, commits, producers
 * under back-pressure, the answer to a failed commit. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cs_config.h"
#include "cs_home.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_node.h"
#include "cs_roster.h"
#include "cs_stats.h"
#include "cs_store.h"
#include "testout.h"
#include "testutil.h"

#define CH "pub@status.a.test"

static char dir[64];
static struct config cfg;
static struct store *store;
static struct node *node;
static struct testout T;
static int64_t now_ms = 1000000;

static void sql(const char *q)
{
    char *msg = NULL;
    ck_assert_msg(sqlite3_exec(store_handle(store), q, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", q,
                  msg);
}

static int count(const char *q)
{
    sqlite3_stmt *st;
    int n = -1;
    ck_assert_int_eq(sqlite3_prepare_v2(store_handle(store), q, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void setup(void)
{
    char err[256], path[128];
    log_init(LOG_LEVEL_ERROR, false, "check_node");
    snprintf(dir, sizeof(dir), "/tmp/check_node.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/db", dir);
    config_defaults(&cfg);
    cfg.domain = xstrdup("status.a.test");
    cfg.multicast = false; /* no discovery iq in what these tests count (check_mcast) */
    ck_assert_int_eq(store_open(path, &cfg, &store, err, sizeof(err)), 0);
    sql("INSERT INTO channel (name, owner) VALUES ('pub', 'o@a.test');"
        "INSERT INTO roster (channel, jid, subscription) VALUES ('pub', 'o@a.test', 'to')");
    testout_init(&T);
    node = node_new(&cfg, store, &T.path, 0, err, sizeof(err));
    ck_assert_ptr_nonnull(node);
}

static void teardown(void)
{
    char cmd[128];
    node_free(&node);
    store_close(&store);
    config_deinit(&cfg);
    testout_deinit(&T);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* One batch: the stanzas, then the batch end (commit, producers). */
static void batch(const char *const *xml, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct xml_node *st = test_parse_stanza(xml[i]);
        node_stanza(node, st, now_ms);
        xml_free(st);
    }
    node_batch_end(node, now_ms);
}

static void one(const char *xml)
{
    batch(&xml, 1);
}

START_TEST(test_failed_commit_answers_only_state_changes)
{
    /* The owner is available: messages go straight to it. */
    node_online(node, now_ms);
    one("<presence from='o@a.test/pc' to='" CH "'/>");
    free(testout_take(&T));

    /* A batch whose commit will fail: the database refuses a row only at
     * COMMIT (a deferred foreign key), after the stanzas were handled. */
    struct xml_node *msg = test_parse_stanza("<message from='w@b.test/r' to='" CH
                                             "' id='m1'><body>hi</body></message>");
    struct xml_node *sub =
        test_parse_stanza("<presence from='v@b.test/r' to='" CH "' type='subscribe' id='s1'/>");
    node_stanza(node, msg, now_ms);
    node_stanza(node, sub, now_ms);
    sql("PRAGMA defer_foreign_keys = ON;"
        "INSERT INTO offline (channel, sender, stanza, bytes, stored)"
        " VALUES ('nosuch', 'x@b.test', '<message/>', 10, 1)");
    node_batch_end(node, now_ms);
    xml_free(msg);
    xml_free(sub);

    char *o = testout_take(&T);
    /* The message depended on no state: delivered. */
    ck_assert_ptr_nonnull(strstr(o, "<message from='w\\40b.test@"
                                    "status.a.test' "
                                    "to='o@a.test/pc' id='m1'><body>hi</body></message>"));
    /* The subscription was not stored: no 'subscribed', an error instead. */
    ck_assert_ptr_null(strstr(o, "type='subscribed'"));
    ck_assert_ptr_nonnull(strstr(o, "<presence from='" CH "' to='v@b.test/r' id='s1' "
                                    "type='error'><error type='wait'><internal-server-error"));
    ck_assert_int_eq(count("SELECT count(*) FROM roster WHERE jid = 'v@b.test'"), 0);
    ck_assert_uint_eq(node_stats(node)->commit_failures, 1);
    free(o);

    /* State was reloaded from the database; the next request works. */
    sql("PRAGMA defer_foreign_keys = OFF");
    one("<presence from='v@b.test/r' to='" CH "' type='subscribe'/>");
    o = testout_take(&T);
    ck_assert_ptr_nonnull(strstr(o, "to='v@b.test' type='subscribed'"));
    ck_assert_int_eq(count("SELECT count(*) FROM roster WHERE jid = 'v@b.test'"), 1);
    free(o);
}
END_TEST

/* Producers wait for room and continue where they stopped: every watcher
 * gets the status exactly once per change, whatever the room. */
START_TEST(test_fanout_under_back_pressure)
{
    sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)"
        " INSERT INTO roster (channel, jid, subscription)"
        " SELECT 'pub', 'w' || i || '@b.test', 'from' FROM n");
    node_online(node, now_ms);
    free(testout_take(&T));
    T.room = 4096;
    one("<presence from='o@a.test/pc' to='" CH "'><status>first</status></presence>");
    unsigned rounds = 0;
    while (testout_count(&T, "<status>first</status>") < 3000 && rounds < 10000) {
        T.room = 4096; /* the link drained */
        node_drained(node, now_ms);
        rounds++;
        if (rounds == 5) {
            /* A watcher leaves and one joins in the middle of the fan-out. */
            one("<presence from='w2999@b.test/r' to='" CH "' type='unsubscribe'/>");
            one("<presence from='n@b.test/r' to='" CH "' type='subscribe'/>");
        }
    }
    ck_assert_uint_gt(rounds, 20); /* it really was paced */
    /* 2999 original watchers left + n@b.test (which got the status on
     * subscribing and may get it again from the fan-out). */
    for (int i = 1; i < 2999; i++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "to='w%d@b.test' from='" CH "'><status>first", i);
        ck_assert_msg(testout_count(&T, needle) == 1, "w%d got it %u times", i,
                      testout_count(&T, needle));
    }
    ck_assert_uint_eq(testout_count(&T, "to='w2999@b.test' from='" CH "'><status>"), 0);
    ck_assert_uint_ge(testout_count(&T, "to='n@b.test'"), 1);
}
END_TEST

/* After a reconnect, the resync tells every watcher, also under
 * back-pressure, and a restart remembers which channels were shown
 * available (their watchers hold a stale view). */
START_TEST(test_resync_after_restart)
{
    char err[256];
    sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)"
        " INSERT INTO roster (channel, jid, subscription)"
        " SELECT 'pub', 'w' || i || '@b.test', 'from' FROM n");
    node_online(node, now_ms);
    one("<presence from='o@a.test/pc' to='" CH "'/>");
    ck_assert_int_eq(count("SELECT shown FROM channel_state WHERE channel = 'pub'"), 1);
    /* kill -9: nothing more is written; a new node starts. */
    node_free(&node);
    node = node_new(&cfg, store, &T.path, 0, err, sizeof(err));
    free(testout_take(&T));
    node_online(node, now_ms);
    ck_assert_uint_eq(testout_count(&T, "type='probe'"), 1);
    /* The owner does not answer; after the resync delay every watcher
     * hears 'unavailable', paced. */
    now_ms += NODE_RESYNC_DELAY_MS;
    T.room = 2000;
    node_tick(node, now_ms);
    for (int i = 0; i < 1000 && testout_count(&T, "type='unavailable'") < 500; i++) {
        T.room = 2000;
        node_drained(node, now_ms);
    }
    ck_assert_uint_eq(testout_count(&T, "type='unavailable'"), 500);
    ck_assert_int_eq(count("SELECT shown FROM channel_state WHERE channel = 'pub'"), 0);
    ck_assert_int_gt(count("SELECT last_seen FROM channel_state WHERE channel = 'pub'"), 0);
}
END_TEST

/* Owner probes after a (re)connect are paced by room, and all go out. */
START_TEST(test_probes_paced)
{
    sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)"
        " INSERT INTO channel (name, owner) SELECT 'c' || i, 'o' || i || '@a.test' FROM n;"
        "INSERT INTO roster (channel, jid, subscription)"
        " SELECT name, owner, 'to' FROM channel WHERE name LIKE 'c%'");
    T.room = 8192;
    node_online(node, now_ms);
    unsigned rounds = 0;
    while (testout_count(&T, "type='probe'") < 5001 && rounds < 100000) {
        T.room = 8192;
        node_drained(node, now_ms);
        rounds++;
    }
    ck_assert_uint_eq(testout_count(&T, "type='probe'"), 5001);
    ck_assert_uint_gt(rounds, 20); /* paced, not one burst */
}
END_TEST

/* Another connection (sqlite3, chanstatctl) edits the tables: what RFC
 * 6121 asks for goes out at the next tick, once. */
static sqlite3 *admin_db(void)
{
    sqlite3 *db;
    char path[128];
    snprintf(path, sizeof(path), "%s/db", dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    return db;
}

static void admin(sqlite3 *db, const char *q)
{
    char *msg = NULL;
    ck_assert_msg(sqlite3_exec(db, q, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", q, msg);
}

START_TEST(test_live_edits)
{
    sqlite3 *db = admin_db();
    char *o;
    node_online(node, now_ms);
    one("<presence from='o@a.test/pc' to='" CH "'><status>here</status></presence>");
    node_tick(node, now_ms);
    free(testout_take(&T));
    /* chanstatd's own writes are not logged for itself. */
    one("<presence from='v@b.test/r' to='" CH "' type='subscribe'/>");
    ck_assert_int_eq(count("SELECT count(*) FROM change_log"), 0);
    free(testout_take(&T));

    /* A new watcher row: the contact gets the current status. */
    admin(db, "INSERT INTO roster (channel, jid, subscription) VALUES ('pub', 'n@b.test', 'from')");
    node_tick(node, now_ms);
    o = testout_take(&T);
    ck_assert_str_eq(o, "<presence from='" CH "' to='n@b.test'><status>here</status>"
                        "<x xmlns='vcard-temp:x:update'><photo/></x></presence>\n");
    free(o);
    /* Idle: nothing more. */
    node_tick(node, now_ms);
    ck_assert_uint_eq(T.buf.len, 0);
    /* The row goes: unsubscribed and unavailable. */
    admin(db, "DELETE FROM roster WHERE jid = 'n@b.test'");
    node_tick(node, now_ms);
    o = testout_take(&T);
    ck_assert_str_eq(o, "<presence from='" CH "' to='n@b.test' type='unsubscribed'/>\n"
                        "<presence from='" CH "' to='n@b.test' type='unavailable'/>\n");
    free(o);
    /* from -> none as well. */
    admin(db, "UPDATE roster SET subscription = 'none' WHERE jid = 'v@b.test'");
    node_tick(node, now_ms);
    o = testout_take(&T);
    ck_assert_ptr_nonnull(strstr(o, "to='v@b.test' type='unsubscribed'"));
    free(o);
    /* A new owner: the old one is unsubscribed, the new one asked. */
    admin(db, "UPDATE channel SET owner = 'p@a.test' WHERE name = 'pub'");
    node_tick(node, now_ms);
    o = testout_take(&T);
    ck_assert_ptr_nonnull(strstr(o, "<presence from='" CH "' to='o@a.test' type='unsubscribe'/>"));
    ck_assert_ptr_nonnull(strstr(o, "<presence from='" CH "' to='p@a.test' type='subscribe'/>"));
    free(o);
    /* The old owner's presence no longer counts. */
    one("<presence from='o@a.test/pc' to='" CH "'><status>still</status></presence>");
    ck_assert_ptr_null(strstr(T.buf.data, "still"));
    free(testout_take(&T));
    /* A policy change applies to the next request. */
    admin(db, "UPDATE channel SET policy = 'approve' WHERE name = 'pub'");
    node_tick(node, now_ms);
    one("<presence from='q@b.test/r' to='" CH "' type='subscribe'/>");
    o = testout_take(&T);
    ck_assert_ptr_nonnull(strstr(o, "<presence from='q\\40b.test@status.a.test' to='p@a.test' "
                                    "type='subscribe'>"));
    free(o);
    /* A removed channel: watchers and owner are told. */
    admin(db, "INSERT INTO roster (channel, jid, subscription) VALUES ('pub', 'm@b.test', 'both')");
    node_tick(node, now_ms);
    free(testout_take(&T));
    admin(db, "DELETE FROM channel WHERE name = 'pub'");
    node_tick(node, now_ms);
    o = testout_take(&T);
    ck_assert_ptr_nonnull(strstr(o, "to='m@b.test' type='unsubscribed'"));
    ck_assert_ptr_nonnull(strstr(o, "to='m@b.test' type='unavailable'"));
    ck_assert_ptr_nonnull(strstr(o, "to='p@a.test' type='unsubscribed'"));
    free(o);
    one("<presence from='z@b.test/r' to='" CH "' type='subscribe'/>");
    o = testout_take(&T);
    ck_assert_str_eq(o, "<presence from='" CH "' to='z@b.test' type='unsubscribed'/>\n");
    free(o);
    ck_assert_int_eq(count("SELECT count(*) FROM change_log"), 0);
    sqlite3_close(db);
}
END_TEST

/* A watcher row deleted by hand while its channel was not in memory (a
 * restart), and the channel loaded from the table before the edit is
 * applied: the contact, which had the status from the run before, is
 * still told unsubscribed and unavailable. */
START_TEST(test_edit_before_load)
{
    sqlite3 *db = admin_db();
    char *o;
    admin(db, "INSERT INTO roster (channel, jid, subscription) VALUES ('pub', 'n@b.test', 'from')");
    node_online(node, now_ms);
    node_tick(node, now_ms);
    free(testout_take(&T));
    admin(db, "DELETE FROM roster WHERE jid = 'n@b.test'");
    /* The owner's presence loads the channel, without n. */
    one("<presence from='o@a.test/pc' to='" CH "'><status>here</status></presence>");
    ck_assert_ptr_null(strstr(T.buf.data, "to='n@b.test'"));
    node_tick(node, now_ms);
    o = testout_take(&T);
    ck_assert_ptr_nonnull(strstr(o, "<presence from='" CH "' to='n@b.test' type='unsubscribed'/>"));
    ck_assert_ptr_nonnull(strstr(o, "<presence from='" CH "' to='n@b.test' type='unavailable'/>"));
    free(o);
    ck_assert_int_eq(count("SELECT count(*) FROM change_log"), 0);
    sqlite3_close(db);
}
END_TEST

/* A bulk edit of 10,000 rows in one transaction is applied in one pass. */
START_TEST(test_bulk_edit)
{
    sqlite3 *db = admin_db();
    node_online(node, now_ms);
    one("<presence from='o@a.test/pc' to='" CH "'/>");
    node_tick(node, now_ms);
    free(testout_take(&T));
    unsigned long before = node_stats(node)->edits_applied;
    admin(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)"
              " INSERT INTO roster (channel, jid, subscription)"
              " SELECT 'pub', 'w' || i || '@b.test', 'from' FROM n");
    node_tick(node, now_ms);
    ck_assert_uint_eq(testout_count(&T, "<presence from='" CH "' to='w"), 10000);
    ck_assert_uint_eq(node_stats(node)->edits_applied - before, 10000);
    ck_assert_int_eq(count("SELECT count(*) FROM change_log"), 0);
    sqlite3_close(db);
}
END_TEST

/* Edits made while chanstatd was stopped: at start the log keeps only
 * the entries saying a contact stopped being a watcher (nothing else
 * needs replaying), so a bulk import costs nothing at start. */
START_TEST(test_log_at_start_keeps_removals_only)
{
    char err[256];
    sqlite3 *db = admin_db();
    node_free(&node);
    admin(db, "INSERT INTO roster (channel, jid, subscription) VALUES ('pub', 'a@b.test', 'from'),"
              " ('pub', 'b@b.test', 'from'), ('pub', 'c@b.test', 'none');"
              "INSERT INTO channel (name) VALUES ('other');"
              "UPDATE roster SET subscription = 'both' WHERE jid = 'a@b.test';"
              "DELETE FROM roster WHERE jid = 'b@b.test'");
    /* New rows (old NULL), a channel, a from -> both change, a removal. */
    ck_assert_int_eq(count("SELECT count(*) FROM change_log"), 6);
    node = node_new(&cfg, store, &T.path, 0, err, sizeof(err));
    ck_assert_ptr_nonnull(node);
    ck_assert_int_eq(count("SELECT count(*) FROM change_log"), 2);
    ck_assert_int_eq(count("SELECT count(*) FROM change_log WHERE kind = 'roster' AND old IN "
                           "('from', 'both')"),
                     2);
    sqlite3_close(db);
}
END_TEST

/* Counters by kind and error condition, written for admins once a
 * second with the owner resources. */
START_TEST(test_stats_and_resources)
{
    node_online(node, now_ms);
    one("<presence from='o@a.test/pc' to='" CH "'><show>away</show><status>out</status>"
        "<priority>5</priority></presence>");
    one("<message from='w@b.test/r' to='nope@status.a.test'><body>x</body></message>");
    one("<iq type='get' id='p' from='w@b.test/r' to='status.a.test'><ping "
        "xmlns='urn:xmpp:ping'/></iq>");
    now_ms += 1000;
    node_tick(node, now_ms);
    const struct stats *st = node_counters(node);
    ck_assert_uint_eq(st->v[STAT_IN_PRESENCE], 1);
    ck_assert_uint_eq(st->v[STAT_IN_MESSAGE], 1);
    ck_assert_uint_eq(st->v[STAT_IN_IQ], 1);
    ck_assert_uint_ge(st->v[STAT_OUT_PRESENCE], 1); /* the probe */
    ck_assert_uint_eq(st->v[STAT_ERRORS_SENT], 1);
    ck_assert_int_eq(count("SELECT value FROM stats WHERE name = 'errors.service-unavailable'"), 1);
    ck_assert_int_eq(count("SELECT value FROM stats WHERE name = 'stanzas_in.iq'"), 1);
    ck_assert_int_eq(count("SELECT value FROM stats WHERE name = 'stanzas_out.iq'"), 1);
    ck_assert_int_eq(count("SELECT priority FROM channel_resource WHERE channel = 'pub'"
                           " AND resource = 'pc' AND show = 'away' AND status = 'out'"),
                     5);
    /* The owner leaves: the row goes at the next write. */
    one("<presence from='o@a.test/pc' to='" CH "' type='unavailable'/>");
    now_ms += 1000;
    node_tick(node, now_ms);
    ck_assert_int_eq(count("SELECT count(*) FROM channel_resource"), 0);
}
END_TEST

/* Every counter the modules keep reaches the stats table: one stanza of
 * each kind that moves one of them. */
START_TEST(test_module_counters_in_stats)
{
    node_online(node, now_ms);
    free(testout_take(&T));
    one("<presence from='w@b.test/r' to='" CH "' type='bogus'/>");                    /* refused */
    one("<message from='w@b.test/r' to='x@elsewhere.test'><body>x</body></message>"); /* dropped */
    now_ms += 1000;
    node_tick(node, now_ms);
    ck_assert_int_eq(count("SELECT value FROM stats WHERE name = 'presence_refused'"), 1);
    ck_assert_int_eq(count("SELECT value FROM stats WHERE name = 'stanzas_dropped'"), 1);
    ck_assert_int_ge(count("SELECT value FROM stats WHERE name = 'owner_probes'"), 1);
    static const char *const names[] = {"subscriptions_rate_limited", "messages_replied",
                                        "messages_expired",           "messages_mirrored",
                                        "channels_registered",        "command_steps"};
    for (size_t i = 0; i < CS_ARRAY_SIZE(names); i++) {
        char q[128];
        snprintf(q, sizeof(q), "SELECT count(*) FROM stats WHERE name = '%s'", names[i]);
        ck_assert_msg(count(q) == 1, "no counter %s", names[i]);
    }
}
END_TEST

/* A presence error from the owner's server reaches the home through the
 * dispatch (it is never answered) and binding is retried on the timer. */
START_TEST(test_owner_error_through_dispatch)
{
    node_online(node, now_ms);
    free(testout_take(&T));
    one("<presence from='o@a.test' to='" CH "' type='error'><error type='cancel'>"
        "<remote-server-not-found "
        "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>");
    ck_assert_uint_eq(T.buf.len, 0); /* errors are not answered */
    now_ms += cfg.fed_retry_ms + 1000;
    node_tick(node, now_ms);
    ck_assert_uint_eq(testout_count(&T, "<presence from='" CH "' to='o@a.test' type='probe'/>"), 1);
}
END_TEST

/* The resync after a (re)connect skips channels whose watchers were
 * already told since (an owner's answer to the probe): no duplicates. */
START_TEST(test_resync_skips_fresh_channels)
{
    sql("INSERT INTO roster (channel, jid, subscription) VALUES ('pub', 'w@b.test', 'from')");
    node_online(node, now_ms);
    one("<presence from='o@a.test/pc' to='" CH "'><status>fresh</status></presence>");
    ck_assert_uint_eq(testout_count(&T, "<status>fresh</status>"), 1);
    now_ms += NODE_RESYNC_DELAY_MS + 1000;
    node_tick(node, now_ms);
    node_tick(node, now_ms + 1000);
    ck_assert_uint_eq(testout_count(&T, "<status>fresh</status>"), 1);
}
END_TEST

/* Every stanza written has a 'from' that is a normalised address at our
 * own domain, whatever the request's 'to' looked like: the error table
 * of doc/xmpp.md, with 'to' in odd case, with a trailing dot, and
 * malformed (answered from the bare domain). */
static void assert_froms_ours(const char *in, const char *out)
{
    const char *p = out;
    unsigned lines = 0;
    ck_assert_msg(*out != '\0', "no answer to %s", in);
    while ((p = strchr(p, '<')) != NULL) {
        const char *end = strchr(p, '\n'), *f;
        char from[512];
        struct jid j;
        char *norm;
        size_t len;
        ck_assert_ptr_nonnull(end);
        f = strstr(p, " from='");
        ck_assert_msg(f && f < strchr(p, '>'), "no from in %.*s (for %s)", (int)(end - p), p, in);
        f += 7;
        len = (size_t)(strchr(f, '\'') - f);
        ck_assert_uint_lt(len, sizeof(from));
        memcpy(from, f, len);
        from[len] = '\0';
        ck_assert_msg(jid_parse(from, &j) == 0, "from='%s' is no JID (for %s)", from, in);
        ck_assert_msg(strcmp(j.domain, "status.a.test") == 0, "from='%s' (for %s)", from, in);
        norm = jid_full(&j);
        ck_assert_msg(strcmp(norm, from) == 0, "from='%s' not normalised (for %s)", from, in);
        free(norm);
        jid_deinit(&j);
        lines++;
        p = end + 1;
    }
    ck_assert_uint_gt(lines, 0);
}

START_TEST(test_answers_from_own_normalised_address)
{
    static const char *const tos[] = {"STATUS.A.TEST", "Status.A.Test.", "PUB@Status.A.Test.",
                                      "nosuch@STATUS.a.test"};
    /* %s: the 'to'.  Each is answered (doc/xmpp.md). */
    static const char *const cases[] = {
        "<iq type='get' id='e1' from='x@b.test/r' to='%s'><nope xmlns='urn:x'/></iq>",
        "<iq type='get' from='x@b.test/r' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>",
        "<iq type='bogus' id='e3' from='x@b.test/r' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>",
        "<iq type='get' id='e4' from='x@b.test/r' to='%s'><a xmlns='urn:x'/><b "
        "xmlns='urn:x'/></iq>",
        "<iq type='get' id='e5' from='x@b.test/r' to='%s/Res'><ping xmlns='urn:xmpp:ping'/></iq>",
        "<iq type='get' id='e6' from='x@b.test/r' to='%s'><query "
        "xmlns='http://jabber.org/protocol/disco#info' node='nope'/></iq>",
        "<iq type='get' id='e7' from='x@b.test/r' to='%s'><query xmlns='jabber:iq:last'/></iq>",
        "<iq type='set' id='e8' from='x@b.test/r' to='%s'><query "
        "xmlns='jabber:iq:register'><username>a</username></query></iq>",
        "<iq type='set' id='e9' from='x@b.test/r' to='%s'><command "
        "xmlns='http://jabber.org/protocol/commands' node='nope' action='execute'/></iq>",
        "<iq type='set' id='e10' from='x@b.test/r' to='%s'><query "
        "xmlns='jabber:iq:gateway'><prompt>not a jid</prompt></query></iq>",
        "<message type='chat' id='e11' from='x@b.test/r' to='%s'><body>hi</body></message>",
        "<message type='groupchat' id='e12' from='x@b.test/r' to='%s'><body>hi</body></message>",
        "<presence type='bogus' id='e13' from='x@b.test/r' to='%s'/>",
        "<presence type='subscribe' id='e14' from='x@b.test/r' to='%s'/>",
        "<presence type='probe' id='e15' from='x@b.test/r' to='%s'/>",
    };
    /* Malformed 'to': from the bare domain. */
    static const char *const bad[] = {
        "<iq type='get' id='b1' from='x@b.test/r' to='a b@status.a.test'><ping "
        "xmlns='urn:xmpp:ping'/></iq>",
        "<iq type='get' id='b2' from='x@b.test/r' to='@status.a.test'><ping "
        "xmlns='urn:xmpp:ping'/></iq>",
        "<iq type='get' id='b3' from='x@b.test/r'><ping xmlns='urn:xmpp:ping'/></iq>",
        "<message type='chat' id='b4' from='x@b.test/r' to='pub@status.a.test/'><body>x</body>"
        "</message>",
        "<message type='chat' id='b5' from='x@b.test/r' to='AAAA\\2fx\\40c@STATUS.a.test.'>"
        "<body>x</body></message>",
        "<message type='chat' id='b6' from='x@b.test/r' to='Y\\40c.test@STATUS.a.test.'>"
        "<body>x</body></message>",
        "<presence type='subscribe' id='b7' from='x@b.test/r' to='p&#x7f;b@status.a.test'/>",
    };
    char buf[512];

    node_online(node, now_ms);
    free(testout_take(&T));
    for (size_t t = 0; t < CS_ARRAY_SIZE(tos); t++) {
        for (size_t i = 0; i < CS_ARRAY_SIZE(cases); i++) {
            char *o;
            const char *at = strstr(cases[i], "%s");
            snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - cases[i]), cases[i], tos[t], at + 2);
            one(buf);
            o = testout_take(&T);
            if (t == 2 && strstr(buf, "id='e11'"))
                ck_assert_str_eq(o, ""); /* stored for the owner: no answer */
            else
                assert_froms_ours(buf, o);
            free(o);
        }
    }
    for (size_t i = 0; i < CS_ARRAY_SIZE(bad); i++) {
        char *o;
        one(bad[i]);
        o = testout_take(&T);
        assert_froms_ours(bad[i], o);
        /* b5 and b6 are valid addresses at our domain (relay addresses). */
        if (strstr(bad[i], "id='b5'") == NULL && strstr(bad[i], "id='b6'") == NULL)
            ck_assert_msg(strstr(o, "from='status.a.test'") != NULL, "%s -> %s", bad[i], o);
        free(o);
    }
    {
        /* A message too large, to the channel spelt oddly. */
        struct strbuf big = {0};
        struct xml_node *st = test_parse_stanza("<message type='chat' id='big' from='x@b.test/r' "
                                                "to='PUB@Status.A.Test.'><body/></message>");
        char *o;
        for (int i = 0; i < 70000; i++)
            strbuf_append(&big, "x", 1);
        xml_add_text(xml_first_elem(st), big.data);
        node_stanza(node, st, now_ms);
        node_batch_end(node, now_ms);
        xml_free(st);
        o = testout_take(&T);
        ck_assert_ptr_nonnull(strstr(o, "policy-violation"));
        assert_froms_ours("a large message", o);
        ck_assert_ptr_nonnull(strstr(o, "from='" CH "'"));
        free(o);
        strbuf_free(&big);
    }
}
END_TEST

/* A stanza the parser cut (its tree would have cost too much memory) is
 * answered with policy-violation and never acted on. */
START_TEST(test_truncated_stanza_answered)
{
    struct xml_node *st =
        test_parse_stanza("<presence type='subscribe' id='t1' from='v@b.test/r' to='" CH "'/>");
    char *o;
    st->truncated = true;
    node_stanza(node, st, now_ms);
    node_batch_end(node, now_ms);
    xml_free(st);
    o = testout_take(&T);
    ck_assert_ptr_nonnull(strstr(o, "<presence from='" CH "' to='v@b.test/r' id='t1' type='error'>"
                                    "<error type='modify'><policy-violation"));
    ck_assert_ptr_null(strstr(o, "subscribed"));
    ck_assert_int_eq(count("SELECT count(*) FROM roster WHERE jid = 'v@b.test'"), 0);
    free(o);
}
END_TEST

/* Every commit the node makes is counted and timed (db_commits,
 * db_commit_us_total), whichever path makes it: the database's own count
 * of commits on the node's connection (a commit hook) against the
 * counters.  The test clock moves COMMIT_US while a transaction is open,
 * so each timed commit adds exactly COMMIT_US; a commit with nothing open
 * is no commit and is not counted. */
#define COMMIT_US 1000

static unsigned db_commits_seen;
static int64_t fake_us;

static int on_db_commit(void *ud)
{
    (void)ud;
    db_commits_seen++;
    return 0;
}

static int64_t tx_clock_us(void)
{
    int64_t t = fake_us;
    if (!sqlite3_get_autocommit(store_handle(store)))
        fake_us += COMMIT_US;
    return t;
}

struct commit_probe {
    unsigned seen;
    uint64_t commits, us;
};

static void probe_start(struct commit_probe *p)
{
    const struct stats *st = node_counters(node);
    node_set_clock(node, tx_clock_us);
    sqlite3_commit_hook(store_handle(store), on_db_commit, NULL);
    p->seen = db_commits_seen;
    p->commits = st->v[STAT_COMMITS];
    p->us = st->v[STAT_COMMIT_US_TOTAL];
}

static void probe_check(const struct commit_probe *p, const char *what)
{
    const struct stats *st = node_counters(node);
    unsigned seen = db_commits_seen - p->seen;
    uint64_t us = st->v[STAT_COMMIT_US_TOTAL] - p->us;
    uint64_t commits = st->v[STAT_COMMITS] - p->commits;
    sqlite3_commit_hook(store_handle(store), NULL, NULL);
    ck_assert_msg(seen > 0, "%s: no commit was made", what);
    ck_assert_msg(us == (uint64_t)COMMIT_US * seen, "%s: %u commit(s), %llu us timed", what, seen,
                  (unsigned long long)us);
    ck_assert_msg(commits == seen, "%s: %u commit(s), %llu counted", what, seen,
                  (unsigned long long)commits);
    ck_assert_uint_ge(st->v[STAT_COMMIT_US_MAX], COMMIT_US);
    ck_assert_uint_eq(st->v[STAT_COMMIT_FAILURES], 0);
}

/* The producers' commit (owner binding asks the owner of a channel
 * without a subscription, and stores that it asked), then a batch's. */
START_TEST(test_commits_counted_pump_and_batch)
{
    struct commit_probe p;
    sql("INSERT INTO channel (name, owner) VALUES ('solo', 'p@a.test')");
    probe_start(&p);
    node_online(node, now_ms);
    ck_assert_uint_eq(testout_count(&T, "to='p@a.test' type='subscribe'"), 1);
    probe_check(&p, "pump");
    probe_start(&p);
    one("<presence from='v@b.test/r' to='" CH "' type='subscribe'/>");
    probe_check(&p, "batch end");
    ck_assert_int_eq(count("SELECT count(*) FROM roster WHERE jid = 'v@b.test'"), 1);
}
END_TEST

/* The tick's background writes: a lease that ran out (the home's timers)
 * and the counters written for admins. */
START_TEST(test_commits_counted_tick)
{
    struct commit_probe p;
    char q[160];
    /* A lease ending one second from now (no clock: now_ms is the wall
     * time too), read at the first tick. */
    snprintf(
        q, sizeof(q),
        "INSERT INTO node_lease (channel, node, expires) VALUES ('pub', 'status.b.test', %lld)",
        (long long)(now_ms / 1000 + 1));
    sql(q);
    node_online(node, now_ms);
    node_tick(node, now_ms);
    now_ms += 2000;
    probe_start(&p);
    node_tick(node, now_ms);
    probe_check(&p, "tick");
    ck_assert_int_eq(count("SELECT count(*) FROM node_lease"), 0);
    ck_assert_int_gt(count("SELECT count(*) FROM stats"), 0);
}
END_TEST

/* Routing's own commits: the conversation memory written at a tick and
 * the deletion of stored messages once written to the socket. */
START_TEST(test_commits_counted_routing)
{
    struct commit_probe p;
    node_online(node, now_ms);
    node_tick(node, now_ms);
    /* Stored while the owner is away, then flushed when it comes. */
    one("<message from='w@b.test/r' to='" CH "' id='m1' type='chat'><body>hi</body></message>");
    one("<presence from='o@a.test/pc' to='" CH "'/>");
    probe_start(&p);
    node_drained(node, now_ms);
    probe_check(&p, "delivered messages");
    ck_assert_int_eq(count("SELECT count(*) FROM offline"), 0);
    /* The contact's message made a conversation, written at the next tick. */
    now_ms += NODE_TICK_MS;
    probe_start(&p);
    node_tick(node, now_ms);
    probe_check(&p, "conversations");
    ck_assert_int_eq(count("SELECT count(*) FROM conversation"), 1);
}
END_TEST

/* A page of edits made by another connection, applied at a tick. */
START_TEST(test_commits_counted_edits)
{
    struct commit_probe p;
    sqlite3 *db = admin_db();
    node_online(node, now_ms);
    node_tick(node, now_ms);
    admin(db, "INSERT INTO roster (channel, jid, subscription) VALUES ('pub', 'n@b.test', 'from')");
    now_ms += NODE_TICK_MS; /* the counters are not due again */
    probe_start(&p);
    node_tick(node, now_ms);
    probe_check(&p, "edits");
    ck_assert_uint_eq(node_stats(node)->edits_applied, 1);
    ck_assert_int_eq(count("SELECT count(*) FROM change_log"), 0);
    sqlite3_close(db);
}
END_TEST

/* A batch cut short by the link loss is committed at node_offline(). */
START_TEST(test_commits_counted_link_loss)
{
    struct commit_probe p;
    struct xml_node *st =
        test_parse_stanza("<presence from='v@b.test/r' to='" CH "' type='subscribe'/>");
    node_online(node, now_ms);
    probe_start(&p);
    node_stanza(node, st, now_ms);
    xml_free(st);
    node_offline(node, now_ms);
    probe_check(&p, "link loss");
    ck_assert_int_eq(count("SELECT count(*) FROM roster WHERE jid = 'v@b.test'"), 1);
}
END_TEST

/* A failed commit at link loss is counted like any other, and state is
 * reloaded from the database. */
START_TEST(test_commit_failure_at_link_loss_counted)
{
    struct xml_node *st =
        test_parse_stanza("<presence from='v@b.test/r' to='" CH "' type='subscribe'/>");
    node_online(node, now_ms);
    node_stanza(node, st, now_ms);
    xml_free(st);
    sql("PRAGMA defer_foreign_keys = ON;"
        "INSERT INTO offline (channel, sender, stanza, bytes, stored)"
        " VALUES ('nosuch', 'x@b.test', '<message/>', 10, 1)");
    node_offline(node, now_ms);
    sql("PRAGMA defer_foreign_keys = OFF");
    ck_assert_uint_eq(node_stats(node)->commit_failures, 1);
    ck_assert_uint_eq(node_counters(node)->v[STAT_COMMIT_FAILURES], 1);
    ck_assert_int_eq(count("SELECT count(*) FROM roster WHERE jid = 'v@b.test'"), 0);
    /* The next session works from what the database holds. */
    node_online(node, now_ms);
    one("<presence from='v@b.test/r' to='" CH "' type='subscribe'/>");
    ck_assert_int_eq(count("SELECT count(*) FROM roster WHERE jid = 'v@b.test'"), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("node");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_failed_commit_answers_only_state_changes);
    tcase_add_test(tc, test_fanout_under_back_pressure);
    tcase_add_test(tc, test_resync_after_restart);
    tcase_add_test(tc, test_probes_paced);
    tcase_add_test(tc, test_live_edits);
    tcase_add_test(tc, test_edit_before_load);
    tcase_add_test(tc, test_bulk_edit);
    tcase_add_test(tc, test_log_at_start_keeps_removals_only);
    tcase_add_test(tc, test_stats_and_resources);
    tcase_add_test(tc, test_module_counters_in_stats);
    tcase_add_test(tc, test_owner_error_through_dispatch);
    tcase_add_test(tc, test_resync_skips_fresh_channels);
    tcase_add_test(tc, test_answers_from_own_normalised_address);
    tcase_add_test(tc, test_truncated_stanza_answered);
    tcase_add_test(tc, test_commits_counted_pump_and_batch);
    tcase_add_test(tc, test_commits_counted_tick);
    tcase_add_test(tc, test_commits_counted_edits);
    tcase_add_test(tc, test_commits_counted_routing);
    tcase_add_test(tc, test_commits_counted_link_loss);
    tcase_add_test(tc, test_commit_failure_at_link_loss_counted);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
