/* check_fed.c - federation between two nodes in one process: a status
 * service (status.a.test) and a home (status.b.test), with the stanzas
 * between them routed by this test as the servers would (s2s). */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cs_capsver.h"
#include "cs_config.h"
#include "cs_log.h"
#include "cs_node.h"
#include "cs_stanza.h"
#include "cs_store.h"
#include "testout.h"
#include "testutil.h"

#define CH "carol@status.b.test"
#define ESC "carol\\40status.b.test@status.a.test"

struct side {
    char dir[64];
    struct config cfg;
    struct store *store;
    struct node *node;
    struct testout out;
};

static struct side A, B;
static struct strbuf users;    /* what reached users, one stanza per line */
static unsigned long s2s;      /* stanzas that crossed between the nodes */
static unsigned long renewals; /* subscribes from a.test to b.test */
static int64_t now_ms = 1000000;
static bool drop_to_b; /* the s2s link to b.test is down */
/* a.test offers XEP-0033 with this limit (0: it offers nothing): its
 * disco#info is answered, and a batch to it becomes one line per address
 * in `users`, as the server would deliver it. */
static unsigned mcast_a;
static unsigned batches_a; /* batches a.test was sent */

static void side_up(struct side *s, const char *domain, const char *sql)
{
    char err[256], path[128];
    snprintf(s->dir, sizeof(s->dir), "/tmp/check_fed.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s->dir));
    snprintf(path, sizeof(path), "%s/db", s->dir);
    config_defaults(&s->cfg);
    s->cfg.domain = xstrdup(domain);
    s->cfg.fed_lease_ms = 600 * MS_PER_S;
    s->cfg.fed_resubscribe_delta_ms = 60 * MS_PER_S;
    s->cfg.fed_min_resubscribe_ms = 30 * MS_PER_S;
    s->cfg.fed_retry_ms = 20 * MS_PER_S;
    s->cfg.fed_linger_ms = 10 * MS_PER_S;
    ck_assert_int_eq(store_open(path, &s->cfg, &s->store, err, sizeof(err)), 0);
    if (sql)
        ck_assert_int_eq(sqlite3_exec(store_handle(s->store), sql, NULL, NULL, NULL), SQLITE_OK);
    testout_init(&s->out);
    s->node = node_new(&s->cfg, s->store, &s->out.path, now_ms, err, sizeof(err));
    ck_assert_ptr_nonnull(s->node);
}

static void side_down(struct side *s)
{
    char cmd[128];
    node_free(&s->node);
    store_close(&s->store);
    config_deinit(&s->cfg);
    testout_deinit(&s->out);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void setup(void)
{
    log_init(LOG_LEVEL_ERROR, false, "check_fed");
    side_up(&A, "status.a.test", NULL);
    side_up(
        &B, "status.b.test",
        "INSERT INTO channel (name, owner, policy) VALUES ('carol', 'carol@b.test', 'open');"
        "INSERT INTO roster (channel, jid, subscription) VALUES ('carol', 'carol@b.test', 'to')");
    users.len = 0;
    strbuf_append(&users, "", 0);
    s2s = 0;
    drop_to_b = false;
    mcast_a = 0;
    batches_a = 0;
    node_online(A.node, now_ms);
    node_online(B.node, now_ms);
}

static void teardown(void)
{
    side_down(&A);
    side_down(&B);
    strbuf_free(&users);
}

static bool at(const char *to, const char *domain)
{
    const char *at_sign = strchr(to, '@');
    const char *d = at_sign ? at_sign + 1 : to;
    size_t n = strlen(domain);
    return strncmp(d, domain, n) == 0 && (d[n] == '\0' || d[n] == '/');
}

/* a.test's multicast service (mcast_a): true when it took the stanza. */
static bool multicast_a(const char *line, const struct xml_node *st)
{
    const struct xml_node *addrs = xml_child(st, "addresses", "http://jabber.org/protocol/address");
    if (strcmp(st->name, "iq") == 0 && xml_child(st, "query", NS_DISCO_INFO)) {
        char iq[768];
        snprintf(iq, sizeof(iq),
                 "<iq type='result' id='%s' from='a.test' to='status.a.test'><query "
                 "xmlns='" NS_DISCO_INFO "'><feature var='http://jabber.org/protocol/address'/>"
                 "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>"
                 "<value>http://jabber.org/protocol/address</value></field><field "
                 "var='presence'><value>%u</value></field></x></query></iq>",
                 xml_attr(st, "id"), mcast_a);
        struct xml_node *answer = test_parse_stanza(iq);
        node_stanza(A.node, answer, now_ms);
        node_batch_end(A.node, now_ms);
        xml_free(answer);
        return true;
    }
    if (strcmp(st->name, "presence") != 0 || addrs == NULL)
        return false;
    batches_a++;
    ck_assert_uint_le(xml_count_elems(addrs), mcast_a);
    for (const struct xml_node *a = xml_first_elem(addrs); a; a = xml_next_elem(a)) {
        /* The copy: to the address, without the list. */
        const char *start = strstr(line, "<addresses"), *end = strstr(line, "</addresses>");
        const char *to = strstr(line, "to='a.test'");
        ck_assert(start && end && to && to < start);
        strbuf_append(&users, line, (size_t)(to - line));
        strbuf_printf(&users, "to='%s'", xml_attr(a, "jid"));
        strbuf_append(&users, to + 11, (size_t)(start - to - 11));
        strbuf_append_str(&users, end + strlen("</addresses>"));
        strbuf_append(&users, "\n", 1);
    }
    return true;
}

/* Moves stanzas between the two nodes until both are quiet; what is
 * addressed to users is kept in `users`. */
static void route(void)
{
    for (int round = 0; round < 100; round++) {
        char *outs[2] = {testout_take(&A.out), testout_take(&B.out)};
        bool moved = false;
        for (int i = 0; i < 2; i++) {
            char *save = NULL;
            for (char *line = strtok_r(outs[i], "\n", &save); line;
                 line = strtok_r(NULL, "\n", &save)) {
                struct xml_node *st = xml_parse_one(line, strlen(line));
                const char *to;
                ck_assert_msg(st != NULL, "ill-formed: %s", line);
                to = xml_attr(st, "to");
                if (to && at(to, "status.a.test")) {
                    s2s += i == 1;
                    node_stanza(A.node, st, now_ms);
                    node_batch_end(A.node, now_ms);
                    moved = true;
                } else if (to && at(to, "status.b.test")) {
                    s2s += i == 0;
                    renewals += i == 0 && strstr(line, "type='subscribe'") != NULL;
                    if (!drop_to_b) {
                        node_stanza(B.node, st, now_ms);
                        node_batch_end(B.node, now_ms);
                        moved = true;
                    }
                } else if (mcast_a && i == 0 && to && strcmp(to, "a.test") == 0 &&
                           multicast_a(line, st)) {
                    moved = true;
                } else {
                    strbuf_append_str(&users, line);
                    strbuf_append(&users, "\n", 1);
                }
                xml_free(st);
            }
            free(outs[i]);
        }
        if (!moved)
            return;
    }
    ck_abort_msg("the nodes never went quiet");
}

static void to_a(const char *xml)
{
    struct xml_node *st = test_parse_stanza(xml);
    node_stanza(A.node, st, now_ms);
    node_batch_end(A.node, now_ms);
    xml_free(st);
    route();
}

static void to_b(const char *xml)
{
    struct xml_node *st = test_parse_stanza(xml);
    node_stanza(B.node, st, now_ms);
    node_batch_end(B.node, now_ms);
    xml_free(st);
    route();
}

static void tick(int64_t ms)
{
    now_ms += ms;
    node_tick(A.node, now_ms);
    node_tick(B.node, now_ms);
    route();
}

static unsigned seen(const char *needle)
{
    unsigned n = 0;
    for (const char *p = users.data; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* Lines that reached users holding both a and b. */
static unsigned seen2(const char *a, const char *b)
{
    unsigned n = 0;
    const char *p = users.data;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = xstrndup(p, len);
        n += strstr(line, a) && strstr(line, b);
        free(line);
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

static int count(struct side *s, const char *q)
{
    sqlite3_stmt *st;
    int n = -1;
    ck_assert_int_eq(sqlite3_prepare_v2(store_handle(s->store), q, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void subscribe(const char *user)
{
    char xml[256];
    snprintf(xml, sizeof(xml), "<presence from='%s/r' to='" ESC "' type='subscribe'/>", user);
    to_a(xml);
}

/* Owner carol is online at her home with a status. */
static void carol_online(const char *status)
{
    char xml[256];
    snprintf(xml, sizeof(xml),
             "<presence from='carol@b.test/pc' to='carol@status.b.test'><status>%s</status>"
             "</presence>",
             status);
    to_b(xml);
}

START_TEST(test_one_upstream_subscription)
{
    carol_online("lunch");
    users.len = 0;
    subscribe("w1@a.test");
    /* discovery (disco#info both ways), subscribe, subscribed, status,
     * and the channel's properties (no avatar: the metadata, nick and
     * vCard4 events) */
    unsigned first = (unsigned)s2s;
    ck_assert_uint_le(first, 8);
    ck_assert_uint_eq(seen("<presence from='" ESC "' to='w1@a.test' type='subscribed'/>"), 1);
    ck_assert_uint_eq(seen2("to='w1@a.test'", "<status>lunch</status>"), 1);
    /* The home holds one row for the node, with its lease. */
    ck_assert_int_eq(count(&B, "SELECT count(*) FROM roster WHERE channel = 'carol'"
                               " AND jid = 'status.a.test' AND subscription = 'from'"),
                     1);
    ck_assert_int_eq(count(&B, "SELECT count(*) FROM node_lease WHERE node = 'status.a.test'"), 1);
    /* 99 more watchers: no s2s stanza at all. */
    for (int i = 2; i <= 100; i++) {
        char u[32];
        snprintf(u, sizeof(u), "w%d@a.test", i);
        subscribe(u);
    }
    ck_assert_uint_eq(s2s, first);
    ck_assert_uint_eq(seen("type='subscribed'"), 100);
    ck_assert_uint_eq(seen("<status>lunch</status>"), 100);
    ck_assert_int_eq(count(&A, "SELECT count(*) FROM remote_watcher WHERE state = 'watching'"),
                     100);
    /* A change crosses once and reaches all 100. */
    users.len = 0;
    s2s = 0;
    carol_online("back");
    ck_assert_uint_eq(s2s, 1);
    ck_assert_uint_eq(seen("<status>back</status>"), 100);
    /* Probes and last activity from the cache: nothing crosses. */
    users.len = 0;
    s2s = 0;
    to_a("<presence from='w7@a.test/x' to='" ESC "' type='probe'/>");
    ck_assert_uint_eq(seen2("to='w7@a.test/x'", "<status>back</status>"), 1);
    to_a("<iq type='get' id='l' from='w7@a.test/x' to='" ESC
         "'><query xmlns='jabber:iq:last'/></iq>");
    ck_assert_uint_eq(seen("type='result'><query xmlns='jabber:iq:last' seconds='0'/>"), 1);
    ck_assert_uint_eq(s2s, 0);
    /* The owner's connection is lost: everyone sees unavailable. */
    users.len = 0;
    to_b("<presence from='carol@b.test/pc' to='carol@status.b.test' type='unavailable'/>");
    ck_assert_uint_eq(seen2("from='" ESC "'", "type='unavailable'"), 100);
}
END_TEST

/* The status service's fan-out to its local watchers goes in batches
 * through a.test's multicast service: one stanza crosses s2s, 100
 * watchers get it once each, in 100 / limit batches. */
START_TEST(test_local_fanout_in_batches)
{
    mcast_a = 10;
    node_offline(A.node, now_ms);
    node_online(A.node, now_ms); /* asks a.test again, now answered */
    carol_online("lunch");
    for (int i = 1; i <= 100; i++) {
        char u[32];
        snprintf(u, sizeof(u), "w%d@a.test", i);
        subscribe(u);
    }
    users.len = 0;
    s2s = 0;
    batches_a = 0;
    carol_online("back");
    ck_assert_uint_eq(s2s, 1);
    ck_assert_uint_eq(batches_a, 10);
    for (int i = 1; i <= 100; i++) {
        char u[32];
        snprintf(u, sizeof(u), "to='w%d@a.test'", i);
        ck_assert_msg(seen2(u, "<status>back</status>") == 1, "w%d@a.test", i);
    }
    ck_assert_uint_eq(seen("<status>back</status>"), 100);
}
END_TEST

START_TEST(test_last_watcher_cancels_after_linger)
{
    subscribe("w1@a.test");
    subscribe("w2@a.test");
    to_a("<presence from='w1@a.test/r' to='" ESC "' type='unsubscribe'/>");
    to_a("<presence from='w2@a.test/r' to='" ESC "' type='unsubscribe'/>");
    ck_assert_int_eq(count(&B, "SELECT count(*) FROM roster WHERE jid = 'status.a.test'"), 1);
    tick(5000); /* within the linger: a watcher may come back for free */
    ck_assert_int_eq(count(&B, "SELECT count(*) FROM roster WHERE jid = 'status.a.test'"), 1);
    tick(6000);
    ck_assert_int_eq(count(&B, "SELECT count(*) FROM roster WHERE jid = 'status.a.test'"), 0);
    ck_assert_int_eq(count(&B, "SELECT count(*) FROM node_lease"), 0);
    ck_assert_int_eq(count(&A, "SELECT count(*) FROM remote_watcher"), 0);
}
END_TEST

START_TEST(test_lease_renewed_and_expired)
{
    carol_online("on");
    subscribe("w1@a.test");
    int64_t exp0 = count(&B, "SELECT expires FROM node_lease");
    /* Renewed resubscribe_delta before the end (600 - 60 s). */
    s2s = 0;
    for (int i = 0; i < 56; i++)
        tick(10000);
    ck_assert_uint_ge(s2s, 2); /* subscribe + subscribed */
    ck_assert_int_gt(count(&B, "SELECT expires FROM node_lease"), exp0);
    /* The node stops renewing (its link to b.test is down): the home
     * drops the subscription when the lease ran out, and says so. */
    drop_to_b = true;
    for (int i = 0; i < 70; i++)
        tick(10000);
    ck_assert_int_eq(count(&B, "SELECT count(*) FROM node_lease"), 0);
    ck_assert_int_eq(count(&B, "SELECT count(*) FROM roster WHERE jid = 'status.a.test'"), 0);
    /* Meanwhile the watcher was shown unavailable, never a stale status. */
    ck_assert_uint_ge(seen2("to='w1@a.test'", "type='unavailable'"), 1);
    /* The link comes back: the retry subscribes again and status flows. */
    drop_to_b = false;
    users.len = 0;
    for (int i = 0; i < 4; i++)
        tick(10000);
    ck_assert_int_eq(count(&B, "SELECT count(*) FROM node_lease"), 1);
    ck_assert_uint_ge(seen2("to='w1@a.test'", "<status>on</status>"), 1);
}
END_TEST

START_TEST(test_unknown_channel_and_non_nodes)
{
    /* No such channel at the home: unsubscribed, never a silent pending. */
    to_a("<presence from='w1@a.test/r' to='nobody\\40status.b.test@status.a.test'"
         " type='subscribe'/>");
    ck_assert_uint_eq(seen("from='nobody\\40status.b.test@status.a.test' to='w1@a.test'"
                           " type='unsubscribed'/>"),
                      1);
    ck_assert_int_eq(count(&A, "SELECT count(*) FROM remote_watcher"), 0);
    /* A domain that does not answer disco#info: unsubscribed after the
     * request timeout; the service stays up. */
    users.len = 0;
    to_a("<presence from='w1@a.test/r' to='x\\40silent.test@status.a.test' type='subscribe'/>");
    ck_assert_uint_eq(seen("type='unsubscribed'"), 0);
    for (int i = 0; i < 4; i++)
        tick(10000);
    ck_assert_uint_eq(seen("from='x\\40silent.test@status.a.test' to='w1@a.test'"
                           " type='unsubscribed'/>"),
                      1);
    /* Users of other domains may not use this node: refused, and
     * nothing crosses. */
    users.len = 0;
    s2s = 0;
    to_a("<presence from='m@c.test/r' to='" ESC "' type='subscribe'/>");
    ck_assert_uint_eq(seen2("to='m@c.test'", "type='unsubscribed'"), 1);
    ck_assert_uint_eq(seen("type='subscribed'"), 0);
    ck_assert_uint_eq(s2s, 0);
}
END_TEST

/* A message to a channel of a domain being asked waits for the answer;
 * when the domain is no chanstat node the sender is told, from the
 * address it wrote to (normalised), with its id. */
START_TEST(test_message_held_while_asking)
{
    to_a("<message from='w1@a.test/r' to='x\\40silent.test@STATUS.a.test.' id='h1' type='chat'>"
         "<body>hi</body></message>");
    ck_assert_uint_eq(seen("id='h1'"), 0);
    for (int i = 0; i < 4; i++)
        tick(10000);
    ck_assert_uint_eq(seen2("<message from='x\\40silent.test@status.a.test' to='w1@a.test/r' "
                            "id='h1' type='error'>",
                            "<forbidden"),
                      1);
}
END_TEST

START_TEST(test_gateway_prompt)
{
    to_a("<iq type='set' id='g' from='w1@a.test/r' to='status.a.test'>"
         "<query xmlns='jabber:iq:gateway'><prompt>carol@status.b.test</prompt></query></iq>");
    ck_assert_uint_eq(seen("<jid>carol\\40status.b.test@status.a.test</jid>"), 1);
    to_a("<iq type='set' id='h' from='w1@a.test/r' to='status.a.test'>"
         "<query xmlns='jabber:iq:gateway'><prompt>not a jid@@</prompt></query></iq>");
    ck_assert_uint_eq(seen("jid-malformed"), 1);
}
END_TEST

START_TEST(test_restart_renews_at_once)
{
    char err[256];
    carol_online("here");
    subscribe("w1@a.test");
    /* kill -9 of the status service, and a restart. */
    node_free(&A.node);
    A.node = node_new(&A.cfg, A.store, &A.out.path, now_ms, err, sizeof(err));
    users.len = 0;
    s2s = 0;
    node_online(A.node, now_ms);
    route();
    /* As the first time: it lost the properties too, and asks for them. */
    ck_assert_uint_le(s2s, 8);
    ck_assert_int_eq(count(&B, "SELECT count(*) FROM roster WHERE jid = 'status.a.test'"), 1);
    carol_online("again");
    ck_assert_uint_eq(seen2("to='w1@a.test'", "<status>again</status>"), 1);
}
END_TEST

/* The status service restarts while the home's component is down: the
 * home's server answers the discovery with a wait error, then nothing
 * answers at all.  w1's acknowledged subscription stays (unavailable
 * meanwhile, never unsubscribed), and the status returns with the home. */
START_TEST(test_restart_while_home_down)
{
    char err[256], xml[512];
    char *out;
    const char *id, *end;
    carol_online("here");
    subscribe("w1@a.test");
    node_free(&A.node);
    A.node = node_new(&A.cfg, A.store, &A.out.path, now_ms, err, sizeof(err));
    users.len = 0;
    node_online(A.node, now_ms);
    out = testout_take(&A.out);
    id = strstr(out, "id='fed-disco-");
    ck_assert_ptr_nonnull(id);
    end = strchr(id + 4, '\'');
    snprintf(xml, sizeof(xml),
             "<iq type='error' %.*s from='status.b.test' to='status.a.test'><error type='wait'>"
             "<remote-server-timeout xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
             (int)(end - id + 1), id);
    free(out);
    to_a(xml);
    ck_assert_uint_eq(seen("type='unsubscribed'"), 0);
    ck_assert_int_eq(count(&A, "SELECT count(*) FROM remote_watcher WHERE jid = 'w1@a.test'"
                               " AND state = 'watching'"),
                     1);
    /* The retry finds nobody answering either. */
    drop_to_b = true;
    for (int i = 0; i < 8; i++)
        tick(10000);
    ck_assert_uint_eq(seen("type='unsubscribed'"), 0);
    ck_assert_int_eq(count(&A, "SELECT count(*) FROM remote_watcher WHERE jid = 'w1@a.test'"
                               " AND state = 'watching'"),
                     1);
    /* The home is back: the next retry subscribes, w1 sees the status. */
    drop_to_b = false;
    for (int i = 0; i < 3; i++)
        tick(10000);
    carol_online("again");
    ck_assert_uint_eq(seen2("to='w1@a.test'", "<status>again</status>"), 1);
    ck_assert_uint_eq(seen("type='unsubscribed'"), 0);
}
END_TEST

/* An admin's edit of s's database, from another connection (as sqlite3
 * or chanstatctl would: the node learns of it at its next tick). */
static void admin_edit(struct side *s, const char *sql)
{
    char path[128];
    sqlite3 *db;
    snprintf(path, sizeof(path), "%s/db", s->dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* Properties across domains: the node subscription carries them (one
 * upstream whatever the number of local watchers and subscribers); the
 * status service keeps them, answers from them and fans them out. */
START_TEST(test_properties_cross_once)
{
    char q[512];
    carol_online("here");
    admin_edit(&B, "UPDATE channel SET display_name = 'Carol & Co', avatar_type = 'image/png',"
                   " avatar = x'89504e470d0a1a0a61626364' WHERE name = 'carol'");
    tick(2500); /* past the resync after the link came up, too */
    for (int i = 1; i <= 20; i++) {
        char u[32];
        snprintf(u, sizeof(u), "w%d@a.test", i);
        subscribe(u);
    }
    /* Local watchers see the home's avatar hash in presence. */
    ck_assert_uint_eq(seen("<photo>"
                           "aef06dec19e352d28f2143d2de022c013544a6d3"
                           "</photo>"),
                      20);
    /* Items from the cache: nothing crosses. */
    users.len = 0;
    s2s = 0;
    to_a("<iq type='get' id='i' from='w3@a.test/x' to='" ESC "'><pubsub xmlns="
         "'http://jabber.org/protocol/pubsub'><items node='urn:xmpp:avatar:data'/></pubsub></iq>");
    ck_assert_uint_eq(seen("<data xmlns='urn:xmpp:avatar:data'>iVBORw0KGgphYmNk</data>"), 1);
    to_a("<iq type='get' id='i' from='w3@a.test/x' to='" ESC "'><pubsub xmlns="
         "'http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/nick'/>"
         "</pubsub></iq>");
    ck_assert_uint_eq(seen(">Carol &amp; Co</nick>"), 1);
    /* Items in the pubsub namespace of the answer, not the event's. */
    ck_assert_uint_eq(
        seen("<items node='http://jabber.org/protocol/nick'><item id='current'><nick"), 1);
    ck_assert_uint_eq(seen("pubsub#event"), 0);
    ck_assert_uint_eq(s2s, 0);
    /* Five local property subscribers of the nick. */
    for (int i = 1; i <= 5; i++) {
        snprintf(q, sizeof(q),
                 "<iq type='set' id='s' from='w%d@a.test/x' to='" ESC "'><pubsub xmlns="
                 "'http://jabber.org/protocol/pubsub'><subscribe node="
                 "'http://jabber.org/protocol/nick' jid='w%d@a.test'/></pubsub></iq>",
                 i, i);
        to_a(q);
    }
    ck_assert_uint_eq(seen("subscription='subscribed'"), 5);
    ck_assert_uint_eq(s2s, 0);
    /* An edit at the home: its events cross once (nick and vCard4), and
     * the five subscribers get the nick. */
    users.len = 0;
    admin_edit(&B, "UPDATE channel SET display_name = 'Carol 2' WHERE name = 'carol'");
    tick(1000);
    ck_assert_uint_eq(s2s, 2);
    ck_assert_uint_eq(seen2("from='" ESC "' type='headline'", ">Carol 2</nick>"), 5);
    /* A local watcher's resource with nick+notify: asked once, then the
     * item from the cache; nothing crosses. */
    {
        const char *feat = "<identity category='client' type='pc'/>"
                           "<feature var='http://jabber.org/protocol/nick+notify'/>";
        char ver[CAPSVER_LEN], id[64], xml[768];
        const char *p, *e;
        struct xml_node *qn;
        snprintf(xml, sizeof(xml),
                 "<query xmlns='http://jabber.org/protocol/disco#info'>%s</query>", feat);
        qn = test_parse_stanza(xml);
        ck_assert_int_eq(capsver_sha1(qn, ver), 0);
        xml_free(qn);
        users.len = 0;
        s2s = 0;
        snprintf(xml, sizeof(xml),
                 "<presence from='w6@a.test/pc' to='" ESC "'><c xmlns='http://jabber.org/"
                 "protocol/caps' hash='sha-1' node='n' ver='%s'/></presence>",
                 ver);
        to_a(xml);
        p = strstr(users.data, "type='get' id='cp");
        ck_assert_ptr_nonnull(p);
        p = strstr(p, " id='") + 5;
        e = strchr(p, '\'');
        cs_strlcpy(id, p, (size_t)(e - p) + 1);
        snprintf(xml, sizeof(xml),
                 "<iq type='result' from='w6@a.test/pc' to='" ESC "' id='%s'><query xmlns="
                 "'http://jabber.org/protocol/disco#info' node='n#%s'>%s</query></iq>",
                 id, ver, feat);
        to_a(xml);
        ck_assert_uint_eq(seen2("to='w6@a.test/pc'", ">Carol 2</nick>"), 1);
        ck_assert_uint_eq(s2s, 0);
    }
    /* A renewal of the lease does not send them again. */
    s2s = 0;
    users.len = 0;
    strbuf_append(&users, "", 0); /* nothing seen yet, even if nothing comes */
    tick(600 * 1000 - 60 * 1000);
    ck_assert_uint_ge(renewals, 1);
    ck_assert_uint_eq(seen("headline"), 0);
}
END_TEST

/* Approve policy across domains: the home decides per watcher, the
 * owner answers at the usual relay address, status still crosses once. */
START_TEST(test_approve_across_domains)
{
    sqlite3_exec(store_handle(B.store), "UPDATE channel SET policy = 'approve'", NULL, NULL, NULL);
    node_tick(B.node, now_ms); /* the edit applies */
    route();
    carol_online("busy");
    users.len = 0;
    subscribe("w1@a.test");
    /* The owner is asked from w1's relay address at the home. */
    ck_assert_uint_eq(
        seen2("from='w1\\40a.test@status.b.test' to='carol@b.test'", "type='subscribe'"), 1);
    ck_assert_uint_eq(seen("to='w1@a.test' type='subscribed'"), 0);
    ck_assert_int_eq(count(&B, "SELECT count(*) FROM watcher_via WHERE jid = 'w1@a.test'"
                               " AND node = 'status.a.test'"),
                     1);
    /* The owner approves: w1 is subscribed and sees the status. */
    to_b("<presence from='carol@b.test' to='w1\\40a.test@status.b.test' type='subscribed'/>");
    ck_assert_uint_eq(seen("<presence from='" ESC "' to='w1@a.test' type='subscribed'/>"), 1);
    ck_assert_uint_eq(seen2("to='w1@a.test'", "<status>busy</status>"), 1);
    ck_assert_int_eq(count(&B, "SELECT count(*) FROM roster WHERE jid = 'w1@a.test'"
                               " AND subscription = 'from'"),
                     1);
    /* w2 is denied. */
    subscribe("w2@a.test");
    to_b("<presence from='carol@b.test' to='w2\\40a.test@status.b.test' type='unsubscribed'/>");
    ck_assert_uint_eq(seen("<presence from='" ESC "' to='w2@a.test' type='unsubscribed'/>"), 1);
    /* A change crosses once (to the node), reaching w1 only. */
    users.len = 0;
    s2s = 0;
    carol_online("free");
    ck_assert_uint_eq(s2s, 1);
    ck_assert_uint_eq(seen2("to='w1@a.test'", "<status>free</status>"), 1);
    ck_assert_uint_eq(seen("w2@a.test"), 0);
    /* An unsubscribed at w1's relay address changes nothing (the owner's
     * server may send one by itself after the release, doc/xmpp.md). */
    users.len = 0;
    to_b("<presence from='carol@b.test' to='w1\\40a.test@status.b.test' type='unsubscribed'/>");
    ck_assert_uint_eq(seen("type='unsubscribed'"), 0);
    /* The owner revokes w1 with the revoke command: w1 is told through
     * its node. */
    to_b("<iq type='set' id='r1' from='carol@b.test/pc' to='carol@status.b.test'><command "
         "xmlns='http://jabber.org/protocol/commands' node='urn:chanstat:cmd:revoke'/></iq>");
    const char *p = strstr(users.data, "sessionid='");
    ck_assert_ptr_nonnull(p);
    char sid[64], xml[640];
    p += strlen("sessionid='");
    ck_assert_uint_lt((size_t)(strchr(p, '\'') - p), sizeof(sid));
    cs_strlcpy(sid, p, (size_t)(strchr(p, '\'') - p) + 1);
    snprintf(xml, sizeof(xml),
             "<iq type='set' id='r2' from='carol@b.test/pc' to='carol@status.b.test'><command "
             "xmlns='http://jabber.org/protocol/commands' node='urn:chanstat:cmd:revoke' "
             "sessionid='%s' action='complete'><x xmlns='jabber:x:data' type='submit'><field "
             "var='revoke'><value>w1@a.test</value></field></x></command></iq>",
             sid);
    users.len = 0;
    to_b(xml);
    ck_assert_uint_eq(seen("Revoked 1."), 1);
    ck_assert_uint_eq(seen("<presence from='" ESC "' to='w1@a.test' type='unsubscribed'/>"), 1);
    ck_assert_int_eq(count(&A, "SELECT count(*) FROM remote_watcher WHERE jid = 'w1@a.test'"), 0);
}
END_TEST

/* A node may vouch only for its own domain's users: a forged claim is
 * refused with forbidden, and nothing is stored or asked. */
START_TEST(test_forged_claim_refused)
{
    sqlite3_exec(store_handle(B.store), "UPDATE channel SET policy = 'approve'", NULL, NULL, NULL);
    node_tick(B.node, now_ms);
    route();
    users.len = 0;
    /* status.a.test claiming a user of c.test. */
    struct xml_node *st = test_parse_stanza(
        "<presence from='m\\40c.test@status.a.test' to='carol@status.b.test' type='subscribe'>"
        "<vouch xmlns='urn:chanstat:federation:0'/></presence>");
    free(testout_take(&B.out));
    node_stanza(B.node, st, now_ms);
    node_batch_end(B.node, now_ms);
    xml_free(st);
    char *o = testout_take(&B.out);
    ck_assert_ptr_nonnull(strstr(o, "<forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"));
    ck_assert_ptr_null(strstr(o, "carol@b.test"));
    free(o);
    ck_assert_int_eq(count(&B, "SELECT count(*) FROM roster WHERE jid = 'm@c.test'"), 0);
    ck_assert_int_eq(count(&B, "SELECT count(*) FROM watcher_via"), 0);
}
END_TEST

/* Messages on the mirror path: each end sees one stable address. */
START_TEST(test_messages_mirror_path)
{
    carol_online("here");
    users.len = 0;
    to_a("<message from='w1@a.test/r' to='" ESC "' id='m1' type='chat'><body>hi</body>"
         "<thread>t1</thread></message>");
    /* The owner sees w1's relay address at the home, as if w1 had written
     * directly; id, type, thread and body unchanged; no <vouch/>. */
    ck_assert_uint_eq(seen("<message from='w1\\40a.test@status.b.test' to='carol@b.test/pc' "
                           "id='m1' type='chat'><body>hi</body><thread>t1</thread></message>"),
                      1);
    /* The reply reaches w1 from the address w1 wrote to. */
    users.len = 0;
    to_b("<message from='carol@b.test/pc' to='w1\\40a.test@status.b.test' id='r1' type='chat'>"
         "<body>hello</body></message>");
    ck_assert_uint_eq(seen("<message from='" ESC "' to='w1@a.test' id='r1' type='chat'>"
                           "<body>hello</body></message>"),
                      1);
    ck_assert_uint_eq(seen("vouch"), 0);
    /* Errors happen at the home and travel back to the sender, from the
     * address it wrote to. */
    users.len = 0;
    to_a("<message from='w1@a.test/r' to='nobody\\40status.b.test@status.a.test' id='m2'>"
         "<body>x</body></message>");
    ck_assert_uint_eq(seen2("from='nobody\\40status.b.test@status.a.test' to='w1@a.test'",
                            "<service-unavailable"),
                      1);
    /* Stored at the home while the owner is away, delivered later with
     * the same relay address. */
    to_b("<presence from='carol@b.test/pc' to='carol@status.b.test' type='unavailable'/>");
    to_a("<message from='w1@a.test/r' to='" ESC
         "' id='m3' type='chat'><body>later</body></message>");
    users.len = 0;
    carol_online("back");
    ck_assert_uint_eq(
        seen2("from='w1\\40a.test@status.b.test' to='carol@b.test/pc'", "<body>later</body>"), 1);
    /* A node may not pass on messages of another domain's users. */
    users.len = 0;
    struct xml_node *st = test_parse_stanza(
        "<message from='m\\40c.test@status.a.test' to='carol@status.b.test'><body>x</body>"
        "<vouch xmlns='urn:chanstat:federation:0'/></message>");
    free(testout_take(&B.out));
    node_stanza(B.node, st, now_ms);
    node_batch_end(B.node, now_ms);
    xml_free(st);
    char *o = testout_take(&B.out);
    ck_assert_ptr_nonnull(strstr(o, "<forbidden"));
    ck_assert_ptr_null(strstr(o, "carol@b.test/pc"));
    free(o);
}
END_TEST

static void list_set(struct config_list *l, const char *item)
{
    l->v = xcalloc(1, sizeof(*l->v));
    l->v[0] = xstrdup(item);
    l->n = 1;
}

/* local_domains widens who a node serves; a home believes such a node
 * about other domains' users only when it lists it in trusted_nodes. */
START_TEST(test_local_domains_and_trusted_nodes)
{
    sqlite3_exec(store_handle(B.store), "UPDATE channel SET policy = 'approve'", NULL, NULL, NULL);
    node_tick(B.node, now_ms);
    route();
    list_set(&A.cfg.fed_local_domains, "c.test");
    users.len = 0;
    /* a.test is no longer served: refused without crossing. */
    s2s = 0;
    subscribe("w1@a.test");
    ck_assert_uint_eq(s2s, 0);
    ck_assert_uint_eq(seen2("to='w1@a.test'", "type='unsubscribed'"), 1);
    /* c.test is served, but the home does not believe status.a.test about
     * c.test users: forbidden, no request reaches the owner. */
    users.len = 0;
    subscribe("m@c.test");
    ck_assert_uint_eq(seen("to='carol@b.test'"), 0);
    ck_assert_int_eq(count(&B, "SELECT count(*) FROM roster WHERE jid = 'm@c.test'"), 0);
    /* ... and m is told, not left pending. */
    ck_assert_uint_eq(seen2("to='m@c.test'", "type='unsubscribed'"), 1);
    ck_assert_int_eq(count(&A, "SELECT count(*) FROM remote_watcher WHERE jid = 'm@c.test'"), 0);
    /* Once the home trusts the node, the owner is asked. */
    list_set(&B.cfg.fed_trusted_nodes, "status.a.test");
    to_a("<presence from='m@c.test/r' to='" ESC "' type='unsubscribe'/>");
    users.len = 0;
    subscribe("m@c.test");
    ck_assert_uint_eq(
        seen2("from='m\\40c.test@status.b.test' to='carol@b.test'", "type='subscribe'"), 1);
}
END_TEST

/* A home's lease answer is a number from the wire: one far too large for
 * milliseconds (it overflowed when scaled before being compared), or
 * no number at all, means the configured lease, not a lease in the past
 * that is renewed at once. */
START_TEST(test_huge_or_bad_lease_from_home)
{
    static const char *const seconds[] = {
        "9223372036854776", "99999999999999999999", "-5", "+60", " 60", "6e1", ""};
    carol_online("on");
    subscribe("w1@a.test");
    for (size_t i = 0; i < CS_ARRAY_SIZE(seconds); i++) {
        char xml[512];
        snprintf(xml, sizeof(xml),
                 "<presence from='" CH "' to='status.a.test' type='subscribed'>"
                 "<lease xmlns='urn:chanstat:federation:0' seconds='%s' policy='open'/>"
                 "</presence>",
                 seconds[i]);
        to_a(xml);
        /* The default lease is 600 s, renewed 60 s before its end: nothing
         * crosses in the next 50 s (a lease in the past is renewed within
         * min_resubscribe, 30 s).  All cases fit in the real lease. */
        renewals = 0;
        for (int t = 0; t < 5; t++)
            tick(10000);
        ck_assert_msg(renewals == 0, "seconds='%s': renewed %lu times", seconds[i], renewals);
    }
}
END_TEST

/* The id of the first disco#info in text (an iq of ours). */
static void disco_id(const char *text, char *id, size_t len)
{
    const char *p = strstr(text, "id='fed-disco-");
    ck_assert_msg(p != NULL, "no disco#info in: %s", text);
    p += 4;
    ck_assert_uint_lt((size_t)(strchr(p, '\'') - p), len);
    cs_strlcpy(id, p, (size_t)(strchr(p, '\'') - p) + 1);
}

/* The answer to "are you a chanstat node?" counts only from the domain
 * asked, and only once, before the request timeout. */
START_TEST(test_discovery_answered_by_the_domain_only)
{
    static const char *const forgers[] = {"status.c.test", "mallory@status.b.test",
                                          "status.b.test/x", "b.test"};
    char id[64], xml[512], *o;
    struct xml_node *st;
    carol_online("on");
    /* w1 subscribes: A asks status.b.test (held back from B here). */
    st = test_parse_stanza("<presence from='w1@a.test/r' to='" ESC "' type='subscribe'/>");
    node_stanza(A.node, st, now_ms);
    node_batch_end(A.node, now_ms);
    xml_free(st);
    o = testout_take(&A.out);
    ck_assert_ptr_nonnull(strstr(o, "to='status.b.test' type='get'"));
    disco_id(o, id, sizeof(id));
    free(o);
    /* "Yes, a node", with the right id from anybody else: not taken. */
    renewals = 0;
    users.len = 0;
    for (size_t i = 0; i < CS_ARRAY_SIZE(forgers); i++) {
        snprintf(xml, sizeof(xml),
                 "<iq type='result' from='%s' to='status.a.test' id='%s'><query "
                 "xmlns='http://jabber.org/protocol/disco#info'><feature "
                 "var='urn:chanstat:federation:0'/></query></iq>",
                 forgers[i], id);
        to_a(xml);
    }
    ck_assert_uint_eq(renewals, 0);
    ck_assert_uint_eq(users.len, 0); /* w1 still waits */
    /* The domain itself: A subscribes, w1 is admitted. */
    snprintf(xml, sizeof(xml),
             "<iq type='result' from='status.b.test' to='status.a.test' id='%s'><query "
             "xmlns='http://jabber.org/protocol/disco#info'><feature "
             "var='urn:chanstat:federation:0'/></query></iq>",
             id);
    to_a(xml);
    ck_assert_uint_eq(renewals, 1);
    ck_assert_uint_eq(seen("<presence from='" ESC "' to='w1@a.test' type='subscribed'/>"), 1);
    ck_assert_uint_eq(seen2("to='w1@a.test'", "<status>on</status>"), 1);
    /* The same answer again: nothing. */
    to_a(xml);
    ck_assert_uint_eq(renewals, 1);
    /* A domain that answers after the request timeout: too late. */
    users.len = 0;
    to_a("<presence from='w2@a.test/r' to='x\\40slow.test@status.a.test' type='subscribe'/>");
    disco_id(users.data, id, sizeof(id));
    for (int i = 0; i < 4; i++)
        tick(10000);
    ck_assert_uint_eq(seen("from='x\\40slow.test@status.a.test' to='w2@a.test'"
                           " type='unsubscribed'/>"),
                      1);
    users.len = 0;
    snprintf(xml, sizeof(xml),
             "<iq type='result' from='slow.test' to='status.a.test' id='%s'><query "
             "xmlns='http://jabber.org/protocol/disco#info'><feature "
             "var='urn:chanstat:federation:0'/></query></iq>",
             id);
    to_a(xml);
    ck_assert_uint_eq(users.len, 0);
}
END_TEST

/* ---- The wall clock moves, deadlines do not ----
 *
 * Both nodes get a wall clock the test steps by an hour, forward and
 * back, as NTP or an admin would: every deadline runs on the monotonic
 * now_ms, so the lease at the home, the renewal, the retry after an
 * error and the timeout of an unanswered request fire when they are due
 * and at no other time; only what is stored (a lease's end in
 * node_lease) follows the wall clock. */
static int64_t wall_offset_ms; /* wall - monotonic */

static int64_t fake_wall_minus_mono(void *ud)
{
    (void)ud;
    return wall_offset_ms;
}

static const struct cs_clock fake_clock = {fake_wall_minus_mono, NULL};

/* Ticks in steps of 10 s up to `to` ms after t0, counting renewals. */
static void tick_until(int64_t t0, int64_t to)
{
    while (now_ms - t0 < to)
        tick(10000);
}

static int lease_rows(void)
{
    return count(&B, "SELECT count(*) FROM node_lease");
}

START_TEST(test_wall_clock_steps_move_no_deadline)
{
    static const int64_t hour = 3600 * 1000;
    int64_t t0, t1, stored;

    wall_offset_ms = INT64_C(1800000000000) - now_ms; /* a plausible wall clock */
    node_use_clock(A.node, &fake_clock);
    node_use_clock(B.node, &fake_clock);
    carol_online("on");
    subscribe("w1@a.test");
    t0 = now_ms; /* the lease of 600 s starts; renewal due at 540 s */
    stored = count(&B, "SELECT expires FROM node_lease");
    ck_assert_int_eq(stored, (t0 + wall_offset_ms) / 1000 + 600);

    /* An hour forward: nothing is due early. */
    wall_offset_ms += hour;
    renewals = 0;
    tick_until(t0, 530 * 1000);
    ck_assert_uint_eq(renewals, 0);
    ck_assert_int_eq(lease_rows(), 1);
    /* The renewal comes when due (540 s), not an hour early or late. */
    tick_until(t0, 550 * 1000);
    ck_assert_uint_eq(renewals, 1);
    t1 = now_ms; /* the home granted a fresh lease at about t1 */
    /* What is stored follows the wall clock, stepped an hour. */
    stored = count(&B, "SELECT expires FROM node_lease");
    ck_assert_int_ge(stored, (t1 - 10000 + wall_offset_ms) / 1000 + 600);
    ck_assert_int_le(stored, (t1 + wall_offset_ms) / 1000 + 600);

    /* Two hours back, and the node stops renewing: the home's lease ends
     * 600 s after it was granted, not an hour late. */
    wall_offset_ms -= 2 * hour;
    drop_to_b = true;
    tick_until(t1, 580 * 1000);
    ck_assert_int_eq(lease_rows(), 1);
    tick_until(t1, 620 * 1000);
    ck_assert_int_eq(lease_rows(), 0);

    /* The node's own lease ran out too (A sees no answer to its renewals):
     * it retries every on_error_retry_time (20 s) plus the request's
     * timeout (30 s), as it would without a clock step. */
    wall_offset_ms += 2 * hour;
    renewals = 0;
    t0 = now_ms;
    tick_until(t0, 200 * 1000);
    ck_assert_uint_ge(renewals, 3);
    ck_assert_uint_le(renewals, 5);
    /* The link comes back: the next retry is answered and the lease is
     * there again within one retry period. */
    drop_to_b = false;
    tick_until(now_ms, 60 * 1000);
    ck_assert_int_eq(lease_rows(), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fed");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_one_upstream_subscription);
    tcase_add_test(tc, test_local_fanout_in_batches);
    tcase_add_test(tc, test_last_watcher_cancels_after_linger);
    tcase_add_test(tc, test_lease_renewed_and_expired);
    tcase_add_test(tc, test_huge_or_bad_lease_from_home);
    tcase_add_test(tc, test_wall_clock_steps_move_no_deadline);
    tcase_add_test(tc, test_unknown_channel_and_non_nodes);
    tcase_add_test(tc, test_gateway_prompt);
    tcase_add_test(tc, test_restart_renews_at_once);
    tcase_add_test(tc, test_restart_while_home_down);
    tcase_add_test(tc, test_properties_cross_once);
    tcase_add_test(tc, test_approve_across_domains);
    tcase_add_test(tc, test_forged_claim_refused);
    tcase_add_test(tc, test_messages_mirror_path);
    tcase_add_test(tc, test_message_held_while_asking);
    tcase_add_test(tc, test_local_domains_and_trusted_nodes);
    tcase_add_test(tc, test_discovery_answered_by_the_domain_only);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
