/* check_route.c - message routing through the home against a real SQLite
 * file: delivery, replies, errors, the offline store and its flush. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cs_config.h"
#include "cs_home.h"
#include "cs_log.h"
#include "cs_offline.h"
#include "cs_roster.h"
#include "cs_route.h"
#include "cs_store.h"
#include "testout.h"
#include "testutil.h"

#define CH "pub@status.a.test"
#define RELAY "w\\40b.test@status.a.test"

static char dir[64];
static struct config cfg;
static struct store *store;
static struct roster *roster;
static struct offline *offline;
static struct home *home;
static struct route *route;
static struct testout T;
#define out T.buf
#define NOW_MS 5000000

static void on_deliverable(void *ud, const char *name)
{
    route_flush(route, name);
}

/* The producers run to the end, as after each commit in the daemon. */
static void pump(int64_t now_ms)
{
    while (home_pump(home, now_ms) | route_pump(route, now_ms))
        ;
    ck_assert_int_eq(roster_tx_commit(roster), 0);
}

static void make(int max_messages)
{
    struct home_limits hl = {
        .sub_burst = 100, .sub_per_minute = 600, .max_pending = 10, .retry_ms = 60000};
    struct route_limits rl = {.max_message_bytes = 2048,
                              .offline_max_messages = max_messages,
                              .offline_max_bytes = 100000,
                              .offline_expiry_s = 3600};
    home_free(&home);
    route_free(&route);
    home = home_new("status.a.test", roster, &hl, &T.path);
    route = route_new("status.a.test", home, roster, offline, &rl, &T.path);
    home_on_deliverable(home, on_deliverable, NULL);
}

static void setup(void)
{
    char err[256], path[128];
    log_init(LOG_LEVEL_ERROR, false, "check_route");
    cs_strlcpy(dir, "/tmp/check_route.XXXXXX", sizeof(dir));
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/db", dir);
    config_defaults(&cfg);
    ck_assert_int_eq(store_open(path, &cfg, &store, err, sizeof(err)), 0);
    roster = roster_new(store, err, sizeof(err));
    offline = offline_new(store, err, sizeof(err));
    ck_assert_ptr_nonnull(offline);
    ck_assert_int_eq(sqlite3_exec(store_handle(store),
                                  "INSERT INTO channel (name, owner) VALUES ('pub', 'o@a.test'),"
                                  " ('two', 'o@a.test'), ('lone', NULL)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    testout_init(&T);
    make(3);
    out.len = 0;
}

static void teardown(void)
{
    char cmd[128];
    route_free(&route);
    home_free(&home);
    offline_free(&offline);
    roster_free(&roster);
    store_close(&store);
    config_deinit(&cfg);
    testout_deinit(&T);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* One stanza in (message to the route, presence to the home); returns
 * what was sent. */
static const char *in(const char *xml)
{
    static struct strbuf last;
    struct xml_node *st = test_parse_stanza(xml);
    out.len = 0;
    strbuf_append(&out, "", 0);
    struct stanza_in in;
    stanza_in_parse(&in, st, NOW_MS);
    if (in.kind == STANZA_MESSAGE)
        route_message(route, &in);
    else
        home_presence(home, &in);
    stanza_in_deinit(&in);
    xml_free(st);
    ck_assert_int_eq(roster_tx_commit(roster), 0);
    pump(NOW_MS);
    last.len = 0;
    strbuf_append(&last, out.data, out.len);
    return last.data;
}

static int stored(void)
{
    int n = -1;
    int64_t bytes;
    ck_assert_int_eq(offline_usage(offline, "pub", &n, &bytes), 0);
    return n;
}

START_TEST(test_delivery_to_best_resource)
{
    in("<presence from='o@a.test/low' to='" CH "'><priority>1</priority></presence>");
    in("<presence from='o@a.test/high' to='" CH "'><priority>9</priority></presence>");
    in("<presence from='o@a.test/neg' to='" CH "'><priority>-1</priority></presence>");
    ck_assert_str_eq(in("<message from='w@b.test/r' to='" CH "' type='chat' id='m1'>"
                        "<body>hi</body><body xml:lang='de'>hallo</body><thread>t</thread>"
                        "<request xmlns='urn:xmpp:receipts'/><x xmlns='urn:ext' a='1'/></message>"),
                     "<message from='" RELAY "' to='o@a.test/high' type='chat' id='m1'>"
                     "<body>hi</body><body xml:lang='de'>hallo</body><thread>t</thread>"
                     "<request xmlns='urn:xmpp:receipts'/><x xmlns='urn:ext' a='1'/></message>\n");
    ck_assert_int_eq(stored(), 0);
}
END_TEST

START_TEST(test_replies)
{
    in("<message from='w@b.test/r' to='two@status.a.test' type='chat'><body>1</body></message>");
    /* The reply comes from the channel the contact wrote to. */
    ck_assert_str_eq(in("<message from='o@a.test/pc' to='" RELAY "' type='chat' id='r1'>"
                        "<body>back</body></message>"),
                     "<message from='two@status.a.test' to='w@b.test' type='chat' id='r1'>"
                     "<body>back</body></message>\n");
    /* Somebody who owns nothing: forbidden. */
    ck_assert_ptr_nonnull(strstr(in("<message from='x@b.test/r' to='" RELAY "'><body>x</body>"
                                    "</message>"),
                                 "<forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"));
    /* Without a conversation the owner's first channel by name answers. */
    ck_assert_str_eq(in("<message from='o@a.test/pc' to='v\\40b.test@status.a.test'>"
                        "<body>x</body></message>"),
                     "<message from='" CH "' to='v@b.test'><body>x</body></message>\n");
}
END_TEST

START_TEST(test_errors)
{
    ck_assert_ptr_nonnull(strstr(in("<message from='w@b.test/r' to='nope@status.a.test'>"
                                    "<body>x</body></message>"),
                                 "service-unavailable"));
    ck_assert_ptr_nonnull(strstr(in("<message from='w@b.test/r' to='lone@status.a.test'>"
                                    "<body>x</body></message>"),
                                 "service-unavailable"));
    char big[3000];
    snprintf(big, sizeof(big),
             "<message from='w@b.test/r' to='" CH "'><body>%02500d</body></message>", 0);
    ck_assert_ptr_nonnull(strstr(in(big), "policy-violation"));
    ck_assert_str_eq(in("<message from='w@b.test/r' to='" CH "' type='error'/>"), "");
    ck_assert_ptr_nonnull(
        strstr(in("<message from='w@b.test/r' to='a b@status.a.test'/>"), "jid-malformed"));
    /* Relay addresses that name no bare JID: an error, and nothing leaks
     * (the sanitizer build checks; this used to leak ~1 KB each). */
    for (int i = 0; i < 200; i++) {
        ck_assert_ptr_nonnull(
            strstr(in("<message from='w@b.test/r' "
                      "to='AAAA\\2fx\\40c@status.a.test'><body>x</body></message>"),
                   "jid-malformed"));
        ck_assert_ptr_nonnull(
            strstr(in("<message from='w@b.test/r' "
                      "to='a\\40b.org\\2fr@status.a.test'><body>x</body></message>"),
                   "jid-malformed"));
    }
    ck_assert_int_eq(stored(), 0);
}
END_TEST

/* A contact without localpart (a server or a component) has a relay
 * address that cannot be mistaken for a channel, both ways. */
START_TEST(test_domain_contact)
{
    ck_assert_str_eq(in("<presence from='o@a.test/pc' to='" CH "'/>"), "");
    ck_assert_str_eq(in("<message from='c.test' to='" CH "' id='d'><body>hi</body></message>"),
                     "<message from='\\40c.test@status.a.test' to='o@a.test/pc' id='d'>"
                     "<body>hi</body></message>\n");
    ck_assert_str_eq(in("<message from='o@a.test/pc' to='\\40c.test@status.a.test' id='e'>"
                        "<body>back</body></message>"),
                     "<message from='" CH "' to='c.test' id='e'><body>back</body></message>\n");
    /* The old form names the channel 'c.test' (there is none). */
    ck_assert_ptr_nonnull(strstr(in("<message from='o@a.test/pc' to='c.test@status.a.test'>"
                                    "<body>x</body></message>"),
                                 "service-unavailable"));
}
END_TEST

/* Which channel a contact wrote to survives a restart (persisted by
 * route_tick), so the owner's reply comes from the right address. */
START_TEST(test_conversation_survives_restart)
{
    in("<message from='w@b.test/r' to='two@status.a.test' type='chat'><body>1</body></message>");
    route_tick(route, NOW_MS);
    make(3); /* a restart: nothing in memory */
    ck_assert_str_eq(in("<message from='o@a.test/pc' to='" RELAY "' type='chat' id='r1'>"
                        "<body>back</body></message>"),
                     "<message from='two@status.a.test' to='w@b.test' type='chat' id='r1'>"
                     "<body>back</body></message>\n");
}
END_TEST

/* The channel the database remembers for o@a.test and contact, or "". */
static const char *conv_row(const char *contact)
{
    static char name[64];
    sqlite3_stmt *st;
    name[0] = '\0';
    ck_assert_int_eq(sqlite3_prepare_v2(store_handle(store),
                                        "SELECT channel FROM conversation"
                                        " WHERE owner = 'o@a.test' AND contact = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_bind_text(st, 1, contact, -1, SQLITE_STATIC), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        cs_strlcpy(name, (const char *)sqlite3_column_text(st, 0), sizeof(name));
    sqlite3_finalize(st);
    return name;
}

/* What is logged from here on goes to a file, until log_back(). */
static int log_to_file(void)
{
    char path[128];
    int saved, fd;
    snprintf(path, sizeof(path), "%s/log", dir);
    fflush(stderr);
    saved = dup(2);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(dup2(fd, 2), 0);
    close(fd);
    log_set_level(LOG_LEVEL_INFO);
    return saved;
}

static void log_back(int saved)
{
    fflush(stderr);
    ck_assert_int_ge(dup2(saved, 2), 0);
    close(saved);
    log_set_level(LOG_LEVEL_ERROR);
}

/* How many lines logged to the file contain what. */
static int logged(const char *what)
{
    char path[128], line[2048];
    int n = 0;
    FILE *f;
    snprintf(path, sizeof(path), "%s/log", dir);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        if (strstr(line, what))
            n++;
    fclose(f);
    return n;
}

/* A channel removed before its conversation was written (registration
 * <remove/>, chanstatctl, sqlite3): that conversation is forgotten with
 * one log line, the others of the batch are written, and later ones
 * still are. */
START_TEST(test_conversation_of_removed_channel)
{
    int saved;
    in("<message from='w@b.test/r' to='" CH "' type='chat'><body>1</body></message>");
    in("<message from='v@b.test/r' to='two@status.a.test' type='chat'><body>2</body></message>");
    ck_assert_int_eq(sqlite3_exec(store_handle(store), "DELETE FROM channel WHERE name = 'two'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    saved = log_to_file();
    for (int i = 0; i < 5; i++)
        route_tick(route, NOW_MS + i * 250);
    log_back(saved);
    ck_assert_str_eq(conv_row("w@b.test"), "pub");
    ck_assert_str_eq(conv_row("v@b.test"), "");
    ck_assert_int_ne(sqlite3_get_autocommit(store_handle(store)), 0);
    ck_assert_int_eq(logged("forgetting the conversation of o@a.test with v@b.test: "
                            "channel two no longer exists"),
                     1);

    in("<message from='u@b.test/r' to='" CH "' type='chat'><body>3</body></message>");
    route_tick(route, NOW_MS + 2000);
    ck_assert_str_eq(conv_row("u@b.test"), "pub");
}
END_TEST

/* A database error keeps the conversations and retries them at every
 * tick, logged when it starts and when it ends, not at each retry. */
START_TEST(test_conversation_write_retried)
{
    sqlite3 *other;
    char path[128];
    int saved;
    in("<message from='w@b.test/r' to='two@status.a.test' type='chat'><body>1</body></message>");
    snprintf(path, sizeof(path), "%s/db", dir);
    ck_assert_int_eq(sqlite3_open(path, &other), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_busy_timeout(store_handle(store), 1), SQLITE_OK);
    saved = log_to_file();
    for (int i = 0; i < 5; i++)
        route_tick(route, NOW_MS + i * 250);
    ck_assert_int_eq(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_close(other), SQLITE_OK);
    route_tick(route, NOW_MS + 2000);
    route_tick(route, NOW_MS + 2250);
    log_back(saved);
    ck_assert_int_eq(logged("route: cannot store"), 1);
    ck_assert_int_eq(logged("route: conversations are stored again"), 1);
    ck_assert_str_eq(conv_row("w@b.test"), "two");
}
END_TEST

/* Expired rows are deleted by the periodic sweep and stop counting
 * against the store's limit. */
START_TEST(test_expired_rows_free_the_store)
{
    in("<message from='w@b.test/r' to='" CH "'><body>1</body></message>");
    in("<message from='w@b.test/r' to='" CH "'><body>2</body></message>");
    in("<message from='w@b.test/r' to='" CH "'><body>3</body></message>");
    ck_assert_ptr_nonnull(strstr(in("<message from='w@b.test/r' to='" CH "'><body>4</body>"
                                    "</message>"),
                                 "resource-constraint"));
    route_tick(route, NOW_MS + 3601000);
    ck_assert_int_eq(stored(), 0);
    ck_assert_uint_eq(route_stats(route)->expired, 3);
    ck_assert_str_eq(in("<message from='w@b.test/r' to='" CH "'><body>5</body></message>"), "");
    ck_assert_int_eq(stored(), 1);
}
END_TEST

/* A big store goes out page by page within the room, ids are recorded
 * only for what the link took, and a refused write stops the cursor. */
START_TEST(test_flush_paced_by_bytes)
{
    char msg[4096];
    make(1000);
    for (int i = 0; i < 200; i++) {
        snprintf(msg, sizeof(msg),
                 "<message from='w@b.test/r' to='" CH "' id='%d'><body>%0300d</body></message>", i,
                 i);
        in(msg);
    }
    ck_assert_int_eq(stored(), 200);
    home_on_deliverable(home, NULL, NULL);
    in("<presence from='o@a.test/pc' to='" CH "'/>");
    out.len = 0;
    T.room = 2000;
    route_flush(route, "pub");
    ck_assert(route_pump(route, NOW_MS)); /* more to come */
    unsigned first = testout_count(&T, "</message>");
    ck_assert_uint_ge(first, 1);
    ck_assert_uint_le(first, 10);
    /* The link goes down: nothing is accepted, nothing recorded. */
    T.down = true;
    T.room = 100000;
    ck_assert(route_pump(route, NOW_MS) || true);
    ck_assert_int_eq(route_drained(route), 0);
    ck_assert_int_eq(stored(), 200 - (int)first);
    T.down = false;
    for (int i = 0; i < 1000 && route_pump(route, NOW_MS); i++)
        T.room = 2000;
    ck_assert_int_eq(route_drained(route), 0);
    ck_assert_int_eq(stored(), 0);
    ck_assert_uint_eq(testout_count(&T, "</message>"), 200);
}
END_TEST

START_TEST(test_offline_store_and_flush)
{
    /* Only a negative priority resource: that is offline for messages. */
    in("<presence from='o@a.test/neg' to='" CH "'><priority>-1</priority></presence>");
    ck_assert_str_eq(in("<message from='w@b.test/r' to='" CH "' type='chat' id='a'>"
                        "<body>one</body></message>"),
                     "");
    ck_assert_str_eq(in("<message from='w@b.test/r' to='" CH "' type='headline'>"
                        "<body>news</body></message>"),
                     "");
    ck_assert_str_eq(in("<message from='w@b.test/r' to='" CH "' type='chat'>"
                        "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>"),
                     "");
    ck_assert_ptr_nonnull(strstr(in("<message from='w@b.test/r' to='" CH "' type='groupchat'>"
                                    "<body>g</body></message>"),
                                 "service-unavailable"));
    in("<message from='v@b.test/r' to='" CH "' id='b'><body>two</body></message>");
    in("<message from='w@b.test/r' to='" CH "' type='chat' id='c'><body>three</body></message>");
    ck_assert_int_eq(stored(), 3);
    ck_assert_ptr_nonnull(
        strstr(in("<message from='w@b.test/r' to='" CH "' type='chat'>"
                  "<body>four</body></message>"),
               "<resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"));
    ck_assert_int_eq(stored(), 3);

    /* Survives a restart. */
    make(3);
    /* The owner comes: all three, in order, stamped, original ids. */
    const char *o = in("<presence from='o@a.test/pc' to='" CH "'/>");
    ck_assert_str_eq(o, "<message from='" RELAY "' to='o@a.test/pc' type='chat' id='a'>"
                        "<body>one</body><delay xmlns='urn:xmpp:delay' from='status.a.test' "
                        "stamp='1970-01-01T01:23:20Z'/></message>\n"
                        "<message from='v\\40b.test@status.a.test' to='o@a.test/pc' id='b'>"
                        "<body>two</body><delay xmlns='urn:xmpp:delay' from='status.a.test' "
                        "stamp='1970-01-01T01:23:20Z'/></message>\n"
                        "<message from='" RELAY "' to='o@a.test/pc' type='chat' id='c'>"
                        "<body>three</body><delay xmlns='urn:xmpp:delay' from='status.a.test' "
                        "stamp='1970-01-01T01:23:20Z'/></message>\n");
    /* Another presence before the link drained: nothing sent twice. */
    ck_assert_str_eq(in("<presence from='o@a.test/pc' to='" CH "'><show>away</show></presence>"),
                     "");
    /* Still stored until the server has them. */
    ck_assert_int_eq(stored(), 3);
    /* New messages keep their place behind the stored ones. */
    ck_assert_ptr_nonnull(strstr(in("<message from='w@b.test/r' to='" CH "'><body>late</body>"
                                    "</message>"),
                                 "resource-constraint"));
    ck_assert_int_eq(route_drained(route), 0);
    ck_assert_int_eq(stored(), 0);
    ck_assert_str_eq(in("<message from='w@b.test/r' to='" CH "'><body>now</body></message>"),
                     "<message from='" RELAY "' to='o@a.test/pc'><body>now</body></message>\n");
}
END_TEST

START_TEST(test_link_lost_resends)
{
    in("<message from='w@b.test/r' to='" CH "'><body>kept</body></message>");
    in("<presence from='o@a.test/pc' to='" CH "'/>");
    ck_assert_int_eq(stored(), 1);
    route_link_lost(route); /* written, but maybe never reached the server */
    ck_assert_ptr_nonnull(strstr(in("<presence from='o@a.test/pc' to='" CH "'><show>dnd</show>"
                                    "</presence>"),
                                 "<body>kept</body>"));
    ck_assert_int_eq(route_drained(route), 0);
    ck_assert_int_eq(stored(), 0);
}
END_TEST

START_TEST(test_expiry)
{
    /* Stored at 5000 with an expiry of one hour: dropped, not delivered. */
    in("<message from='w@b.test/r' to='" CH "'><body>old</body></message>");
    home_on_deliverable(home, NULL, NULL);
    in("<presence from='o@a.test/pc' to='" CH "'/>");
    out.len = 0;
    strbuf_append(&out, "", 0);
    route_flush(route, "pub");
    pump(NOW_MS + 3601000);
    ck_assert_str_eq(out.data, "");
    ck_assert_int_eq(route_drained(route), 0);
    ck_assert_int_eq(stored(), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("route");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_delivery_to_best_resource);
    tcase_add_test(tc, test_replies);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_offline_store_and_flush);
    tcase_add_test(tc, test_link_lost_resends);
    tcase_add_test(tc, test_expiry);
    tcase_add_test(tc, test_domain_contact);
    tcase_add_test(tc, test_conversation_survives_restart);
    tcase_add_test(tc, test_conversation_of_removed_channel);
    tcase_add_test(tc, test_conversation_write_retried);
    tcase_add_test(tc, test_expired_rows_free_the_store);
    tcase_add_test(tc, test_flush_paced_by_bytes);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
