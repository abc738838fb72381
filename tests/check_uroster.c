/* check_uroster.c - XEP-0356 at the node: a server's grants, the users'
 * rosters kept in step with the roster table, presence by permission.
 * A small fake server keeps the users' rosters and answers the iqs. */
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
#include "cs_log.h"
#include "cs_node.h"
#include "cs_stats.h"
#include "cs_store.h"
#include "cs_uroster.h"
#include "testout.h"
#include "testutil.h"

static char dir[64];
static struct config cfg;
static struct store *store;
static struct node *node;
static struct testout T;
static sqlite3 *admin;  /* another connection, as sqlite3 or chanstatctl */
static sqlite3 *server; /* the fake server's rosters */
static int64_t now_ms = 1000000;
/* Fake server behaviour. */
static bool answer_iqs = true;
static bool fail_sets; /* as ejabberd 23.01: every set fails */
static unsigned max_inflight_seen, inflight_now, iqs_seen, gets_seen;

static void exec_on(sqlite3 *db, const char *q)
{
    char *msg = NULL;
    ck_assert_msg(sqlite3_exec(db, q, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", q, msg);
}

static char *text(sqlite3 *db, const char *q)
{
    sqlite3_stmt *st;
    char *r = NULL;
    ck_assert_msg(sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK, "%s: %s", q,
                  sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        r = xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return r ? r : xstrdup("(none)");
}

static void expect(sqlite3 *db, const char *q, const char *want)
{
    char *got = text(db, q);
    ck_assert_msg(strcmp(got, want) == 0, "%s: got '%s', want '%s'", q, got, want);
    free(got);
}

static void stanza(const char *xml)
{
    struct xml_node *st = test_parse_stanza(xml);
    node_stanza(node, st, now_ms);
    xml_free(st);
}

static void grant_ns(const char *domain, const char *roster, const char *presence, int ns)
{
    char xml[512];
    snprintf(xml, sizeof(xml),
             "<message from='%s' to='status.a.test'><privilege xmlns='urn:xmpp:privilege:%d'>"
             "<perm access='roster' type='%s'/><perm access='presence' type='%s'/>"
             "</privilege></message>",
             domain, ns, roster, presence);
    stanza(xml);
    node_batch_end(node, now_ms);
}

static void grant(const char *domain, const char *roster, const char *presence)
{
    grant_ns(domain, roster, presence, 2);
}

static void setup(void)
{
    char err[256], path[128];
    log_init(getenv("URDEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR, false, "check_uroster");
    snprintf(dir, sizeof(dir), "/tmp/check_uroster.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/db", dir);
    config_defaults(&cfg);
    cfg.domain = xstrdup("status.a.test");
    cfg.multicast = false; /* no discovery iq in what these tests count (check_mcast) */
    ck_assert_int_eq(store_open(path, &cfg, &store, err, sizeof(err)), 0);
    testout_init(&T);
    node = node_new(&cfg, store, &T.path, 0, err, sizeof(err));
    ck_assert_ptr_nonnull(node);
    ck_assert_int_eq(sqlite3_open(path, &admin), SQLITE_OK);
    sqlite3_busy_timeout(admin, 2000);
    ck_assert_int_eq(sqlite3_open(":memory:", &server), SQLITE_OK);
    exec_on(server, "CREATE TABLE item (user TEXT, jid TEXT, name TEXT, groups TEXT, sub TEXT,"
                    " PRIMARY KEY (user, jid));"
                    "CREATE TABLE account (user TEXT PRIMARY KEY)");
    answer_iqs = true;
    fail_sets = false;
    max_inflight_seen = inflight_now = iqs_seen = gets_seen = 0;
    exec_on(admin, "INSERT INTO channel (name, owner, display_name) VALUES"
                   " ('news', 'o@a.test', 'Daily News'), ('desk', 'o@a.test', NULL);");
    for (int i = 0; i < 5; i++) {
        char q[128];
        snprintf(q, sizeof(q), "INSERT INTO account VALUES ('u%d@a.test')", i);
        exec_on(server, q);
    }
    exec_on(server, "INSERT INTO account VALUES ('o@a.test')");
}

static void teardown(void)
{
    char cmd[128];
    node_free(&node);
    store_close(&store);
    config_deinit(&cfg);
    testout_deinit(&T);
    sqlite3_close(admin);
    sqlite3_close(server);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- the fake server ---- */

static bool exists(const char *user)
{
    sqlite3_stmt *st;
    bool r;
    sqlite3_prepare_v2(server, "SELECT 1 FROM account WHERE user = ?1", -1, &st, NULL);
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    r = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return r;
}

static void reply(struct strbuf *in, const struct xml_node *iq, const char *payload)
{
    strbuf_printf(in, "<iq type='%s' from='%s' to='status.a.test' id='%s'>%s</iq>\n",
                  strncmp(payload, "<error", 6) == 0 ? "error" : "result", xml_attr(iq, "to"),
                  xml_attr(iq, "id"), payload);
}

/* Applies a roster set or answers a get, as Prosody's mod_privilege. */
static void serve_iq(struct strbuf *in, const struct xml_node *iq)
{
    const char *user = xml_attr(iq, "to");
    const struct xml_node *q = xml_child(iq, "query", "jabber:iq:roster");
    const struct xml_node *item = q ? xml_first_elem(q) : NULL;
    sqlite3_stmt *st;

    ck_assert_ptr_nonnull(q);
    ck_assert_str_eq(xml_attr(iq, "from"), "status.a.test");
    iqs_seen++;
    if (!exists(user)) {
        reply(in, iq,
              "<error type='cancel'><service-unavailable "
              "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>");
        return;
    }
    if (strcmp(xml_attr(iq, "type"), "get") == 0) {
        struct strbuf sb = {0};
        gets_seen++;
        strbuf_append_str(&sb, "<query xmlns='jabber:iq:roster'>");
        sqlite3_prepare_v2(server, "SELECT jid, name, groups, sub FROM item WHERE user = ?1", -1,
                           &st, NULL);
        sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            char *groups = xstrdup((const char *)sqlite3_column_text(st, 2)), *save = NULL;
            strbuf_printf(&sb, "<item jid='%s' name='%s' subscription='%s'>",
                          sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
                          sqlite3_column_text(st, 3));
            for (char *g = strtok_r(groups, "\n", &save); g; g = strtok_r(NULL, "\n", &save))
                strbuf_printf(&sb, "<group>%s</group>", g);
            strbuf_append_str(&sb, "</item>");
            free(groups);
        }
        sqlite3_finalize(st);
        strbuf_append_str(&sb, "</query>");
        reply(in, iq, sb.data);
        strbuf_free(&sb);
        return;
    }
    ck_assert_ptr_nonnull(item);
    ck_assert_ptr_null(xml_next_elem(item)); /* one item per iq */
    if (fail_sets) {
        reply(in, iq,
              "<error type='wait'><internal-server-error "
              "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>");
        return;
    }
    if (strcmp(xml_attr(item, "subscription"), "remove") == 0) {
        sqlite3_prepare_v2(server, "DELETE FROM item WHERE user = ?1 AND jid = ?2", -1, &st, NULL);
        sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, xml_attr(item, "jid"), -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_finalize(st);
        if (sqlite3_changes(server) == 0)
            reply(in, iq,
                  "<error type='modify'><item-not-found "
                  "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>");
        else
            reply(in, iq, "");
        return;
    }
    {
        struct strbuf groups = {0};
        strbuf_append_str(&groups, "");
        for (const struct xml_node *g = xml_first_elem(item); g; g = xml_next_elem(g)) {
            char *t = xml_text_dup(g);
            if (groups.len)
                strbuf_append(&groups, "\n", 1);
            strbuf_append_str(&groups, t);
            free(t);
        }
        sqlite3_prepare_v2(server, "INSERT OR REPLACE INTO item VALUES (?1, ?2, ?3, ?4, ?5)", -1,
                           &st, NULL);
        sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, xml_attr(item, "jid"), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, xml_attr(item, "name"), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, groups.data, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, xml_attr(item, "subscription"), -1, SQLITE_STATIC);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
        strbuf_free(&groups);
        reply(in, iq, "");
    }
}

/* Takes what the node wrote; answers the roster iqs (one batch); returns
 * the rest (caller frees) for the test to look at. */
static char *serve(void)
{
    char *o = testout_take(&T), *save = NULL;
    struct strbuf in = {0}, rest = {0};
    strbuf_append_str(&rest, "");
    for (char *line = strtok_r(o, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct xml_node *st = test_parse_stanza(line);
        const char *type = xml_attr(st, "type");
        if (strcmp(st->name, "iq") == 0 && xml_child(st, "query", "jabber:iq:roster") && type &&
            (strcmp(type, "get") == 0 || strcmp(type, "set") == 0)) {
            inflight_now++;
            if (inflight_now > max_inflight_seen)
                max_inflight_seen = inflight_now;
            if (answer_iqs)
                serve_iq(&in, st);
        } else {
            strbuf_append_str(&rest, line);
            strbuf_append(&rest, "\n", 1);
        }
        xml_free(st);
    }
    free(o);
    if (in.data) {
        char *s2 = NULL;
        for (char *line = strtok_r(in.data, "\n", &s2); line; line = strtok_r(NULL, "\n", &s2)) {
            inflight_now--;
            stanza(line);
        }
        node_batch_end(node, now_ms);
    }
    strbuf_free(&in);
    return rest.data;
}

/* Serves until the node has nothing left to do; the rest of the output. */
static char *settle(void)
{
    struct strbuf all = {0};
    strbuf_append_str(&all, "");
    for (int i = 0; i < 10000; i++) {
        char *r;
        node_pump(node, now_ms);
        r = serve();
        strbuf_append_str(&all, r);
        free(r);
        if (uroster_idle(node_uroster(node)) && T.buf.len == 0)
            return all.data;
    }
    ck_abort_msg("the roster sync never settled");
    return NULL;
}

static void settle_quiet(void)
{
    free(settle());
}

static unsigned occurrences(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void tick(void)
{
    node_tick(node, now_ms);
}

#define ITEM(user, ch)                                                                             \
    "SELECT name || '|' || groups || '|' || sub FROM item WHERE user = '" user "' AND jid = '" ch  \
    "@status.a.test'"

/* ---- tests ---- */

START_TEST(test_grant_syncs_existing_rows)
{
    exec_on(admin, "INSERT INTO roster (channel, jid, subscription, groups) VALUES"
                   " ('news', 'u1@a.test', 'from', 'Work' || char(10) || 'Feeds'),"
                   " ('desk', 'u1@a.test', 'both', NULL),"
                   " ('news', 'u2@a.test', 'from', ''),"
                   " ('desk', 'u2@a.test', 'none', 'Kept')," /* not a watcher */
                   " ('news', 'x@b.test', 'from', NULL),"    /* another server */
                   " ('news', 'status.b.test', 'from', NULL)" /* a node */);
    node_online(node, now_ms);
    settle_quiet();
    ck_assert_uint_eq(iqs_seen, 0); /* nothing granted: today's behaviour */
    grant("a.test", "both", "none");
    settle_quiet();
    expect(server, ITEM("u1@a.test", "news"), "Daily News|Feeds\nWork|to");
    expect(server, ITEM("u1@a.test", "desk"), "desk||both");
    expect(server, ITEM("u2@a.test", "news"), "Daily News||to");
    expect(server, "SELECT count(*) FROM item", "3");
    expect(admin, "SELECT count(*) FROM pushed_item", "3");
    ck_assert_uint_eq(uroster_stats(node_uroster(node))->items_set, 3);
    ck_assert_uint_eq(gets_seen, 2);

    /* The next grant (a reconnect) finds everything in step: reads only. */
    iqs_seen = 0;
    grant("a.test", "both", "none");
    settle_quiet();
    ck_assert_uint_eq(iqs_seen, 2);
}
END_TEST

START_TEST(test_users_own_items_untouched)
{
    /* u1 subscribed to news by themselves, with their own name and group;
     * they also have an unrelated contact. */
    exec_on(server, "INSERT INTO item VALUES ('u1@a.test', 'news@status.a.test', 'Mine', 'Own',"
                    " 'to'), ('u1@a.test', 'friend@a.test', 'Friend', '', 'both')");
    exec_on(admin, "INSERT INTO roster (channel, jid, subscription, groups) VALUES"
                   " ('news', 'u1@a.test', 'from', 'Feeds'), ('desk', 'u1@a.test', 'from', NULL)");
    node_online(node, now_ms);
    grant("a.test", "both", "none");
    settle_quiet();
    expect(server, ITEM("u1@a.test", "news"), "Mine|Own|to");
    expect(server, "SELECT name FROM item WHERE jid = 'friend@a.test'", "Friend");
    expect(server, ITEM("u1@a.test", "desk"), "desk||to");
    expect(admin, "SELECT group_concat(channel) FROM pushed_item", "desk");
    ck_assert_uint_eq(uroster_stats(node_uroster(node))->kept_own, 1);
    /* An edit of the row still leaves the user's own item alone; removing
     * the row does not remove it either. */
    exec_on(admin, "UPDATE roster SET groups = 'Other' WHERE channel = 'news'");
    tick();
    settle_quiet();
    expect(server, ITEM("u1@a.test", "news"), "Mine|Own|to");
    exec_on(admin, "DELETE FROM roster WHERE channel = 'news'");
    tick();
    settle_quiet();
    expect(server, ITEM("u1@a.test", "news"), "Mine|Own|to");
}
END_TEST

START_TEST(test_live_edits_reach_rosters)
{
    char *o;
    node_online(node, now_ms);
    grant("a.test", "both", "none");
    settle_quiet();
    stanza("<presence from='o@a.test/pc' to='news@status.a.test'><status>here</status></presence>");
    node_batch_end(node, now_ms);
    settle_quiet();
    exec_on(admin, "INSERT INTO roster (channel, jid, subscription, groups)"
                   " VALUES ('news', 'u3@a.test', 'from', 'Feeds')");
    tick();
    o = settle();
    expect(server, ITEM("u3@a.test", "news"), "Daily News|Feeds|to");
    /* The status goes with the new watcher row and again once the item
     * is in the roster (a client may drop it before). */
    ck_assert_uint_eq(occurrences(o, "to='u3@a.test'><status>here</status>"
                                     "<x xmlns='vcard-temp:x:update'><photo/></x></presence>"),
                      2);
    free(o);
    /* A change of an item the user has is no news: no status again. */
    /* Groups and the display name change the item. */
    exec_on(admin, "UPDATE roster SET groups = 'Later' WHERE jid = 'u3@a.test'");
    tick();
    o = settle();
    expect(server, ITEM("u3@a.test", "news"), "Daily News|Later|to");
    ck_assert_uint_eq(occurrences(o, "<presence"), 0);
    free(o);
    exec_on(admin, "UPDATE channel SET display_name = 'Evening News' WHERE name = 'news'");
    tick();
    settle_quiet();
    expect(server, ITEM("u3@a.test", "news"), "Evening News|Later|to");
    /* Unusable text is never written: the channel's name instead. */
    exec_on(admin, "UPDATE channel SET display_name = 'bad' || char(1) WHERE name = 'news'");
    tick();
    settle_quiet();
    expect(server, ITEM("u3@a.test", "news"), "news|Later|to");
    /* The row goes: the item goes. */
    exec_on(admin, "DELETE FROM roster WHERE jid = 'u3@a.test'");
    tick();
    settle_quiet();
    expect(server, "SELECT count(*) FROM item", "0");
    expect(admin, "SELECT count(*) FROM pushed_item", "0");
    /* A channel removed with its rows: the items go. */
    exec_on(admin, "INSERT INTO roster (channel, jid, subscription) VALUES"
                   " ('desk', 'u3@a.test', 'from'), ('desk', 'u4@a.test', 'both')");
    tick();
    settle_quiet();
    expect(server, "SELECT count(*) FROM item", "2");
    exec_on(admin, "DELETE FROM channel WHERE name = 'desk'");
    tick();
    settle_quiet();
    expect(server, "SELECT count(*) FROM item", "0");
    expect(admin, "SELECT count(*) FROM pushed_item", "0");
}
END_TEST

START_TEST(test_user_removal_is_their_unsubscribe)
{
    char *o;
    exec_on(admin, "INSERT INTO roster (channel, jid, subscription, groups) VALUES"
                   " ('news', 'u1@a.test', 'from', 'Feeds'), ('news', 'u2@a.test', 'from', NULL)");
    node_online(node, now_ms);
    grant("a.test", "both", "none");
    settle_quiet();
    /* Live: u1's client removes the item; their server unsubscribes. */
    stanza("<presence from='u1@a.test' to='news@status.a.test' type='unsubscribe'/>");
    node_batch_end(node, now_ms);
    exec_on(server, "DELETE FROM item WHERE user = 'u1@a.test'");
    o = settle();
    expect(admin, "SELECT subscription FROM roster WHERE jid = 'u1@a.test'", "none");
    expect(admin, "SELECT count(*) FROM pushed_item WHERE user = 'u1@a.test'", "0");
    free(o);
    /* The admin sets the row again: pushed again, not taken for a removal. */
    exec_on(admin, "UPDATE roster SET subscription = 'from' WHERE jid = 'u1@a.test'");
    tick();
    settle_quiet();
    expect(server, ITEM("u1@a.test", "news"), "Daily News|Feeds|to");
    /* Removed while chanstatd did not hear it (seen at the next grant):
     * the same as the unsubscribe. */
    exec_on(server, "DELETE FROM item WHERE user = 'u2@a.test'");
    grant("a.test", "both", "none");
    o = settle();
    ck_assert_ptr_nonnull(strstr(o, "to='u2@a.test' type='unavailable'"));
    free(o);
    expect(admin, "SELECT count(*) FROM roster WHERE jid = 'u2@a.test'", "0");
    expect(admin, "SELECT count(*) FROM pushed_item WHERE user = 'u2@a.test'", "0");
    expect(server, "SELECT count(*) FROM item WHERE user = 'u2@a.test'", "0");
    ck_assert_uint_eq(uroster_stats(node_uroster(node))->user_removed, 1);
}
END_TEST

/* A server that sends a privileged entity the users' roster pushes
 * (XEP-0356 0.4, roster get): a removal of an item chanstat pushed is the
 * user's unsubscribe; every push is answered. */
START_TEST(test_roster_push_of_a_removal)
{
    char *o;
    exec_on(admin, "INSERT INTO roster (channel, jid, subscription) VALUES"
                   " ('news', 'u1@a.test', 'from'), ('desk', 'u1@a.test', 'from')");
    exec_on(server,
            "INSERT INTO item VALUES ('u1@a.test', 'desk@status.a.test', 'Mine', '', 'to')");
    node_online(node, now_ms);
    tick();
    grant("a.test", "both", "none");
    settle_quiet();
    expect(admin, "SELECT group_concat(channel) FROM pushed_item", "news");
    /* The user removes their own item (desk): answered, nothing else. */
    stanza("<iq type='set' from='u1@a.test' to='status.a.test' id='p1'><query "
           "xmlns='jabber:iq:roster'><item jid='desk@status.a.test' subscription='remove'/>"
           "</query></iq>");
    node_batch_end(node, now_ms);
    o = settle();
    ck_assert_ptr_nonnull(strstr(o, "<iq from='status.a.test' to='u1@a.test' id='p1' "
                                    "type='result'/>"));
    free(o);
    expect(admin, "SELECT subscription FROM roster WHERE channel = 'desk'", "from");
    /* ... and the one chanstat pushed (news): their unsubscribe. */
    stanza("<iq type='set' from='u1@a.test' to='status.a.test' id='p2'><query "
           "xmlns='jabber:iq:roster' ver='7'><item jid='news@status.a.test' "
           "subscription='remove'/></query></iq>");
    node_batch_end(node, now_ms);
    o = settle();
    ck_assert_ptr_nonnull(strstr(o, "id='p2'"));
    free(o);
    expect(admin, "SELECT count(*) FROM roster WHERE channel = 'news' AND jid = 'u1@a.test'", "0");
    expect(admin, "SELECT count(*) FROM pushed_item", "0");
    ck_assert_uint_eq(uroster_stats(node_uroster(node))->user_removed, 1);
    /* Not a push: from a resource, or from a domain that granted nothing. */
    stanza("<iq type='set' from='u1@a.test/pc' to='status.a.test' id='p3'><query "
           "xmlns='jabber:iq:roster'/></iq>");
    stanza("<iq type='set' from='x@b.test' to='status.a.test' id='p4'><query "
           "xmlns='jabber:iq:roster'/></iq>");
    node_batch_end(node, now_ms);
    o = settle();
    ck_assert_ptr_nonnull(strstr(o, "id='p3' type='error'>"));
    ck_assert_ptr_nonnull(strstr(o, "id='p4' type='error'>"));
    ck_assert_uint_eq(occurrences(o, "<service-unavailable"), 2);
    free(o);
}
END_TEST

START_TEST(test_set_only_goes_by_its_record)
{
    exec_on(admin, "INSERT INTO roster (channel, jid, subscription) VALUES"
                   " ('news', 'u1@a.test', 'from'), ('news', 'nobody@a.test', 'from')");
    node_online(node, now_ms);
    grant("a.test", "set", "none");
    settle_quiet();
    ck_assert_uint_eq(gets_seen, 0);
    expect(server, ITEM("u1@a.test", "news"), "Daily News||to");
    /* A user the server does not have: refused, nothing recorded. */
    expect(admin, "SELECT count(*) FROM pushed_item WHERE user = 'nobody@a.test'", "0");
    ck_assert_uint_eq(uroster_stats(node_uroster(node))->errors, 1);
    iqs_seen = 0;
    grant("a.test", "set", "none");
    settle_quiet();
    ck_assert_uint_eq(iqs_seen, 1); /* only the refused one again */
    /* Without roster set (get only, or none), nothing is written. */
    exec_on(admin, "INSERT INTO roster (channel, jid, subscription) VALUES ('desk', 'u2@a.test', "
                   "'from')");
    grant("a.test", "get", "none");
    tick();
    iqs_seen = 0;
    settle_quiet();
    ck_assert_uint_eq(iqs_seen, 0);
}
END_TEST

START_TEST(test_grants_only_from_served_domains)
{
    char *o;
    exec_on(admin, "INSERT INTO roster (channel, jid, subscription) VALUES"
                   " ('news', 'x@b.test', 'from')");
    node_online(node, now_ms);
    grant("b.test", "both", "managed_entity");
    o = settle();
    /* Not answered, nothing pushed (only the owner binding goes out). */
    ck_assert_ptr_null(strstr(o, "<message"));
    ck_assert_ptr_null(strstr(o, "<iq"));
    free(o);
    ck_assert_uint_eq(iqs_seen, 0);
    /* A user's message with a privilege element is no grant either. */
    stanza("<message from='u1@a.test/pc' to='status.a.test' type='chat'><privilege "
           "xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/></privilege>"
           "</message>");
    node_batch_end(node, now_ms);
    o = settle();
    ck_assert_uint_eq(iqs_seen, 0);
    free(o);
}
END_TEST

START_TEST(test_answers_must_come_from_the_user)
{
    char *o, *id;
    exec_on(admin, "INSERT INTO roster (channel, jid, subscription) VALUES ('news', 'u1@a.test', "
                   "'from')");
    node_online(node, now_ms);
    grant("a.test", "set", "none");
    node_pump(node, now_ms);
    o = testout_take(&T);
    id = strstr(o, "id='ur");
    ck_assert_ptr_nonnull(id);
    {
        char forged[256], idv[24] = {0};
        sscanf(id, "id='%23[^']'", idv);
        snprintf(forged, sizeof(forged),
                 "<iq type='result' from='u2@a.test' to='status.a.test' id='%s'/>", idv);
        stanza(forged);
        node_batch_end(node, now_ms);
        expect(admin, "SELECT count(*) FROM pushed_item", "0");
        snprintf(forged, sizeof(forged),
                 "<iq type='result' from='u1@a.test' to='status.a.test' id='%s'/>", idv);
        stanza(forged);
        node_batch_end(node, now_ms);
        expect(admin, "SELECT count(*) FROM pushed_item", "1");
    }
    free(o);
    ck_assert(uroster_idle(node_uroster(node)));
}
END_TEST

START_TEST(test_unanswered_iqs_time_out)
{
    exec_on(admin, "INSERT INTO roster (channel, jid, subscription) VALUES ('news', 'u1@a.test', "
                   "'from')");
    node_online(node, now_ms);
    tick(); /* the rows are news to the change log: applied before the grant */
    answer_iqs = false;
    grant("a.test", "both", "none");
    free(serve());
    ck_assert(!uroster_idle(node_uroster(node)));
    now_ms += UROSTER_TIMEOUT_MS + 1000;
    tick();
    ck_assert(uroster_idle(node_uroster(node)));
    ck_assert_uint_eq(uroster_stats(node_uroster(node))->timeouts, 1);
}
END_TEST

START_TEST(test_bulk_sync_under_back_pressure)
{
    /* 20,000 rows over 2,000 users, with little room in the output. */
    exec_on(admin, "BEGIN");
    for (int c = 0; c < 10; c++) {
        char q[128];
        snprintf(q, sizeof(q), "INSERT INTO channel (name) VALUES ('c%d')", c);
        exec_on(admin, q);
    }
    exec_on(admin, "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1999),"
                   " m(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM m WHERE k < 9)"
                   " INSERT INTO roster (channel, jid, subscription)"
                   " SELECT 'c' || k, 'user' || i || '@a.test', 'from' FROM n, m");
    exec_on(admin, "COMMIT");
    exec_on(server, "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1999)"
                    " INSERT INTO account SELECT 'user' || i || '@a.test' FROM n");
    node_online(node, now_ms);
    T.room = 4096;
    grant("a.test", "both", "none");
    {
        unsigned rounds = 0;
        while (!uroster_idle(node_uroster(node)) && rounds < 100000) {
            /* What was written left; the rest is still queued. */
            T.room = T.buf.len >= 4096 ? 0 : 4096 - T.buf.len;
            node_pump(node, now_ms);
            /* Never more than the room's worth beyond it. */
            ck_assert_uint_lt(T.buf.len, 4096 + 1024);
            free(serve());
            rounds++;
        }
        ck_assert(uroster_idle(node_uroster(node)));
        ck_assert_uint_gt(rounds, 100);
    }
    expect(server, "SELECT count(*) FROM item", "20000");
    expect(admin, "SELECT count(*) FROM pushed_item", "20000");
    ck_assert_uint_le(max_inflight_seen, UROSTER_MAX_INFLIGHT);
    ck_assert_uint_eq(uroster_stats(node_uroster(node))->users_synced, 2000);
}
END_TEST

START_TEST(test_presence_permission_binds_without_subscription)
{
    char *o;
    exec_on(admin, "INSERT INTO channel (name, owner) VALUES ('far', 'z@b.test');"
                   "INSERT INTO roster (channel, jid, subscription) VALUES"
                   " ('news', 'u1@a.test', 'from')");
    node_set_bind_delay(node, 500);
    node_online(node, now_ms);
    o = settle();
    ck_assert_str_eq(o, ""); /* binding waits for a grant */
    free(o);
    grant("a.test", "none", "managed_entity");
    now_ms += 500;
    tick();
    o = settle();
    /* o@a.test is not asked; z@b.test (another server) is. */
    ck_assert_ptr_null(strstr(o, "to='o@a.test'"));
    ck_assert_ptr_nonnull(strstr(o, "from='far@status.a.test' to='z@b.test' type='subscribe'"));
    free(o);
    /* Twice each of o's two channels: the binding pass, and the channels
     * being new to the change log at the first tick. */
    ck_assert_uint_eq(node_counters(node)->v[STAT_BINDS_SKIPPED], 4);
    /* The owner's presence, given to the component's domain, is the
     * status of both their channels. */
    stanza("<presence from='o@a.test/pc' to='status.a.test'><show>away</show>"
           "<status>at lunch</status></presence>");
    node_batch_end(node, now_ms);
    o = settle();
    ck_assert_ptr_nonnull(strstr(o, "' to='u1@a.test' from='news@status.a.test'><show>"
                                    "away</show><status>at lunch</status>"
                                    "<x xmlns='vcard-temp:x:update'><photo/></x></presence>"));
    free(o);
    /* Somebody else's presence changes nothing. */
    stanza("<presence from='u1@a.test/pc' to='status.a.test'/>");
    node_batch_end(node, now_ms);
    o = settle();
    ck_assert_str_eq(o, "");
    free(o);
    stanza("<presence from='o@a.test/pc' to='status.a.test' type='unavailable'/>");
    node_batch_end(node, now_ms);
    o = settle();
    ck_assert_ptr_nonnull(strstr(o, "from='news@status.a.test'"));
    ck_assert_ptr_nonnull(strstr(o, "to='u1@a.test'"));
    ck_assert_ptr_nonnull(strstr(o, "type='unavailable'"));
    free(o);
    /* After a link loss the grant is gone until announced again. */
    node_offline(node, now_ms);
    node_online(node, now_ms);
    stanza("<presence from='o@a.test/pc' to='status.a.test'><status>back</status></presence>");
    node_batch_end(node, now_ms);
    o = settle();
    ck_assert_ptr_null(strstr(o, "back"));
    free(o);
    now_ms += 500;
    tick();
    o = settle();
    ck_assert_ptr_nonnull(strstr(o, "from='news@status.a.test' to='o@a.test' type='subscribe'"));
    free(o);
}
END_TEST

START_TEST(test_server_failing_every_set_is_left_alone)
{
    exec_on(admin, "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99)"
                   " INSERT INTO roster (channel, jid, subscription)"
                   " SELECT 'news', 'u' || i || '@a.test', 'from' FROM n");
    exec_on(server, "WITH RECURSIVE n(i) AS (SELECT 5 UNION ALL SELECT i + 1 FROM n WHERE i < 99)"
                    " INSERT INTO account SELECT 'u' || i || '@a.test' FROM n");
    node_online(node, now_ms);
    tick();
    fail_sets = true;
    grant("a.test", "set", "none");
    settle_quiet();
    /* Stopped after a few, not 100 failures. */
    ck_assert_uint_le(iqs_seen, UROSTER_MAX_INFLIGHT);
    ck_assert_uint_lt(iqs_seen, 100);
    expect(admin, "SELECT count(*) FROM pushed_item", "0");
    /* The next session (a new grant) tries again. */
    fail_sets = false;
    grant("a.test", "set", "none");
    settle_quiet();
    expect(admin, "SELECT count(*) FROM pushed_item", "100");
}
END_TEST

START_TEST(test_presence_of_namespace_1_is_not_trusted)
{
    char *o;
    exec_on(admin, "INSERT INTO roster (channel, jid, subscription) VALUES"
                   " ('news', 'u1@a.test', 'from')");
    node_set_bind_delay(node, 500);
    node_online(node, now_ms);
    grant_ns("a.test", "both", "managed_entity", 1);
    now_ms += 500;
    tick();
    o = settle();
    /* Such a server need not say when a session closes: owners stay
     * bound by subscription, and the roster sync works as in version 2. */
    ck_assert_ptr_nonnull(strstr(o, "from='news@status.a.test' to='o@a.test' type='subscribe'"));
    free(o);
    expect(server, ITEM("u1@a.test", "news"), "Daily News||to");
    stanza("<presence from='o@a.test/pc' to='status.a.test'><status>here</status></presence>");
    node_batch_end(node, now_ms);
    o = settle();
    ck_assert_ptr_null(strstr(o, "here"));
    free(o);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("uroster");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_grant_syncs_existing_rows);
    tcase_add_test(tc, test_users_own_items_untouched);
    tcase_add_test(tc, test_live_edits_reach_rosters);
    tcase_add_test(tc, test_user_removal_is_their_unsubscribe);
    tcase_add_test(tc, test_roster_push_of_a_removal);
    tcase_add_test(tc, test_set_only_goes_by_its_record);
    tcase_add_test(tc, test_grants_only_from_served_domains);
    tcase_add_test(tc, test_answers_must_come_from_the_user);
    tcase_add_test(tc, test_unanswered_iqs_time_out);
    tcase_add_test(tc, test_bulk_sync_under_back_pressure);
    tcase_add_test(tc, test_presence_permission_binds_without_subscription);
    tcase_add_test(tc, test_server_failing_every_set_is_left_alone);
    tcase_add_test(tc, test_presence_of_namespace_1_is_not_trusted);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(suite());
}
