/* check_home.c - channel presence at the home, driven stanza by stanza
 * against a real SQLite file, with the output captured. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cs_config.h"
#include "cs_home.h"
#include "cs_log.h"
#include "cs_roster.h"
#include "cs_store.h"
#include "testout.h"
#include "testutil.h"

#define CH "pub@status.a.test"

static char dir[64];
static struct config cfg;
static struct store *store;
static struct roster *roster;
static struct home *home;
static struct testout T;
#define out T.buf /* everything sent, one stanza per line */
static int64_t now_s;

/* Runs the producers (fan-out, binding) to the end, as the daemon does
 * after each commit and drain. */
static void pump(void)
{
    while (home_pump(home, now_s * 1000))
        ;
    ck_assert_int_eq(roster_tx_commit(roster), 0);
}

static void sql(const char *q)
{
    char *msg = NULL;
    ck_assert_msg(sqlite3_exec(store_handle(store), q, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", q,
                  msg);
}

static void make_home(int burst)
{
    struct home_limits lim = {
        .sub_burst = burst, .sub_per_minute = 60, .max_pending = 3, .retry_ms = 60000};
    home = home_new("status.a.test", roster, &lim, &T.path);
}

/* A home for the flood tests: 3 subscriptions per sender, dom_burst per
 * domain and node_burst new node subscriptions (0: no limit), each
 * refilled at 60 a minute. */
static void make_flood_home(int dom_burst, int node_burst)
{
    struct home_limits lim = {.sub_burst = 3,
                              .sub_per_minute = 60,
                              .dom_burst = dom_burst,
                              .dom_per_minute = 60,
                              .node_burst = node_burst,
                              .node_per_minute = 60,
                              .max_pending = 3,
                              .retry_ms = 60000};
    home_free(&home);
    home = home_new("status.a.test", roster, &lim, &T.path);
}

static void setup(void)
{
    char err[256], path[128];
    log_init(LOG_LEVEL_ERROR, false, "check_home");
    cs_strlcpy(dir, "/tmp/check_home.XXXXXX", sizeof(dir));
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/db", dir);
    config_defaults(&cfg);
    ck_assert_int_eq(store_open(path, &cfg, &store, err, sizeof(err)), 0);
    roster = roster_new(store, err, sizeof(err));
    ck_assert_ptr_nonnull(roster);
    sql("INSERT INTO channel (name, owner, policy) VALUES"
        " ('pub', 'owner@a.test', 'open'), ('ask', 'owner@a.test', 'approve'),"
        " ('shut', 'owner@a.test', 'closed'), ('lone', NULL, 'approve')");
    testout_init(&T);
    make_home(10);
    out.len = 0;
    now_s = 1000;
}

static void teardown(void)
{
    char cmd[128];
    home_free(&home);
    roster_free(&roster);
    store_close(&store);
    config_deinit(&cfg);
    testout_deinit(&T);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Feeds one stanza to the home; returns (and clears) what it sent. */
static const char *in(const char *xml)
{
    static struct strbuf last;
    struct xml_node *grabbed = test_parse_stanza(xml);
    out.len = 0;
    strbuf_append(&out, "", 0);
    struct stanza_in st;
    stanza_in_parse(&st, grabbed, now_s * 1000);
    if (st.kind == STANZA_PRESENCE)
        home_presence(home, &st);
    else
        ck_assert(home_iq(home, &st));
    stanza_in_deinit(&st);
    xml_free(grabbed);
    ck_assert_int_eq(roster_tx_commit(roster), 0);
    pump();
    last.len = 0;
    strbuf_append(&last, out.data, out.len);
    return last.data;
}

static const char *row_of(const char *channel, const char *jid)
{
    static char buf[64];
    struct sub_row r;
    int rc = roster_get(roster, channel, jid, &r);
    if (rc != 0)
        return "absent";
    snprintf(buf, sizeof(buf), "%s%s", sub_state_name(r.state), r.approved ? " approved" : "");
    return buf;
}

/* Binds the owner: the home asks, the owner approves, the home probes. */
static void bind_owner(void)
{
    out.len = 0;
    home_online(home, 1000);
    pump();
    ck_assert(strstr(out.data, "<presence from='" CH "' to='owner@a.test' type='subscribe'/>"));
    ck_assert_int_eq(roster_tx_commit(roster), 0);
    ck_assert_str_eq(in("<presence from='owner@a.test' to='" CH "' type='subscribed'/>"),
                     "<presence from='" CH "' to='owner@a.test' type='probe'/>\n");
    ck_assert_str_eq(row_of("pub", "owner@a.test"), "To");
}

START_TEST(test_open_subscribe_gets_subscribed_and_status)
{
    ck_assert_str_eq(in("<presence from='w@b.test/r' to='" CH "' type='subscribe'/>"),
                     "<presence from='" CH "' to='w@b.test' type='subscribed'/>\n"
                     "<presence from='" CH "' type='unavailable' to='w@b.test'/>\n");
    ck_assert_str_eq(row_of("pub", "w@b.test"), "From");
    /* A duplicate request: answered for the channel, state unchanged. */
    ck_assert_str_eq(in("<presence from='w@b.test/r' to='" CH "' type='subscribe'/>"),
                     "<presence from='" CH "' to='w@b.test' type='subscribed'/>\n"
                     "<presence from='" CH "' type='unavailable' to='w@b.test'/>\n");
}
END_TEST

START_TEST(test_owner_status_fans_out)
{
    bind_owner();
    in("<presence from='w1@b.test/r' to='" CH "' type='subscribe'/>");
    in("<presence from='w2@b.test/r' to='" CH "' type='subscribe'/>");
    const char *o = in("<presence from='owner@a.test/pc' to='" CH "'><show>away</show>"
                       "<status>lunch</status></presence>");
    ck_assert_ptr_nonnull(strstr(o, "' to='w1@b.test' from='" CH
                                    "'><show>away</show><status>lunch</status></presence>\n"));
    ck_assert_ptr_nonnull(strstr(o, "' to='w2@b.test' from='" CH "'>"));
    ck_assert_uint_eq(home_stats(home)->deliveries, 2);
    /* The same status again (Prosody replays probe answers): nothing. */
    ck_assert_str_eq(in("<presence from='owner@a.test/pc' to='" CH "'><show>away</show>"
                        "<status>lunch</status></presence>"),
                     "");
    /* Presence from someone else means nothing. */
    ck_assert_str_eq(in("<presence from='w1@b.test/r' to='" CH "'/>"), "");
    /* The owner's session is lost: every watcher sees unavailable. */
    o = in("<presence from='owner@a.test/pc' to='" CH "' type='unavailable'/>");
    ck_assert_ptr_nonnull(strstr(o, "' to='w1@b.test' from='" CH "' type='unavailable'/>"));
    ck_assert_ptr_nonnull(strstr(o, "' to='w2@b.test' from='" CH "' type='unavailable'/>"));
}
END_TEST

START_TEST(test_probe)
{
    bind_owner();
    in("<presence from='owner@a.test/pc' to='" CH "'/>");
    in("<presence from='w@b.test/r' to='" CH "' type='subscribe'/>");
    /* A watcher's probe is answered to the probing full JID. */
    ck_assert_str_eq(in("<presence from='w@b.test/r' to='" CH "' type='probe'/>"),
                     "<presence from='" CH "' to='w@b.test/r'/>\n");
    /* A stranger's probe: unsubscribed (RFC 6121 4.3.2). */
    ck_assert_str_eq(in("<presence from='x@b.test/r' to='" CH "' type='probe'/>"),
                     "<presence from='" CH "' to='x@b.test' type='unsubscribed'/>\n");
}
END_TEST

START_TEST(test_unsubscribe_and_revoke)
{
    in("<presence from='w@b.test/r' to='" CH "' type='subscribe'/>");
    ck_assert_str_eq(in("<presence from='w@b.test/r' to='" CH "' type='unsubscribe'/>"),
                     "<presence from='" CH "' to='w@b.test' type='unavailable'/>\n");
    ck_assert_str_eq(row_of("pub", "w@b.test"), "absent");
    /* Redundant: nothing. */
    ck_assert_str_eq(in("<presence from='w@b.test/r' to='" CH "' type='unsubscribe'/>"), "");
    /* A subscribed nobody asked for: ignored, nothing stored. */
    ck_assert_str_eq(in("<presence from='z@b.test' to='" CH "' type='subscribed'/>"), "");
    ck_assert_str_eq(row_of("pub", "z@b.test"), "absent");
    /* The watcher leaves the fan-out list. */
    bind_owner();
    ck_assert_str_eq(in("<presence from='owner@a.test/pc' to='" CH "'/>"), "");
}
END_TEST

START_TEST(test_closed_and_unknown)
{
    ck_assert_str_eq(in("<presence from='w@b.test/r' to='shut@status.a.test' type='subscribe'/>"),
                     "<presence from='shut@status.a.test' to='w@b.test' type='unsubscribed'/>\n");
    ck_assert_str_eq(row_of("shut", "w@b.test"), "absent");
    ck_assert_str_eq(in("<presence from='w@b.test/r' to='nope@status.a.test' type='subscribe'/>"),
                     "<presence from='nope@status.a.test' to='w@b.test' type='unsubscribed'/>\n");
    ck_assert_str_eq(in("<presence from='w@b.test/r' to='nope@status.a.test' type='probe'/>"),
                     "<presence from='nope@status.a.test' to='w@b.test' type='unsubscribed'/>\n");
    ck_assert_str_eq(in("<presence from='w@b.test/r' to='nope@status.a.test'/>"), "");
    /* A channel an admin adds while we run is found on first use. */
    sql("INSERT INTO channel (name, owner) VALUES ('fresh', 'owner@a.test')");
    ck_assert_str_eq(in("<presence from='w@b.test/r' to='fresh@status.a.test' type='subscribe'/>"),
                     "<presence from='fresh@status.a.test' to='w@b.test' type='subscribed'/>\n"
                     "<presence from='fresh@status.a.test' type='unavailable' to='w@b.test'/>\n");
    /* An admin row makes a closed channel watchable. */
    sql("INSERT INTO roster (channel, jid, subscription) VALUES ('shut', 'w@b.test', 'from')");
    home_free(&home);
    make_home(10);
    ck_assert_str_eq(in("<presence from='w@b.test/r' to='shut@status.a.test' type='probe'/>"),
                     "<presence from='shut@status.a.test' type='unavailable' to='w@b.test/r'/>\n");
}
END_TEST

START_TEST(test_approve_policy)
{
    const char *o = in("<presence from='w@b.test/r' to='ask@status.a.test' type='subscribe'/>");
    ck_assert_ptr_nonnull(strstr(o, "<presence from='w\\40b.test@status.a.test' to='owner@a.test' "
                                    "type='subscribe'>"));
    ck_assert_str_eq(row_of("ask", "w@b.test"), "None + Pending In");
    /* The pending request survives a restart. */
    home_free(&home);
    make_home(10);
    ck_assert_str_eq(row_of("ask", "w@b.test"), "None + Pending In");
    /* The owner approves at the relay address. */
    /* The owner's client may send presence to the relay address while
     * the request waits: nothing is said back, which would withdraw the
     * request at the owner's server. */
    ck_assert_str_eq(in("<presence from='owner@a.test/pc' to='w\\40b.test@status.a.test'/>"), "");
    ck_assert_str_eq(row_of("ask", "w@b.test"), "None + Pending In");
    /* The owner approves at the relay address; the relay address lets go
     * of what the owner's server now counts as its subscription. */
    ck_assert_str_eq(in("<presence from='owner@a.test' to='w\\40b.test@status.a.test' "
                        "type='subscribed'/>"),
                     "<presence from='ask@status.a.test' to='w@b.test' type='subscribed'/>\n"
                     "<presence from='ask@status.a.test' type='unavailable' to='w@b.test'/>\n"
                     "<presence from='w\\40b.test@status.a.test' to='owner@a.test' "
                     "type='unsubscribe'/>\n");
    ck_assert_str_eq(row_of("ask", "w@b.test"), "From");
    /* A repeated approval changes nothing but lets go again. */
    ck_assert_str_eq(in("<presence from='owner@a.test' to='w\\40b.test@status.a.test' "
                        "type='subscribed'/>"),
                     "<presence from='w\\40b.test@status.a.test' to='owner@a.test' "
                     "type='unsubscribe'/>\n");
    /* The owner's server still sends the owner's presence to a relay
     * address (approved before this rule): let go once; it is no status
     * of any channel.  Presence from someone else there changes nothing. */
    ck_assert_str_eq(in("<presence from='owner@a.test/pc' to='w\\40b.test@status.a.test'>"
                        "<show>away</show></presence>"),
                     "<presence from='w\\40b.test@status.a.test' to='owner@a.test' "
                     "type='unsubscribe'/>\n");
    ck_assert_str_eq(in("<presence from='owner@a.test/pc' to='w\\40b.test@status.a.test' "
                        "type='unavailable'/>"),
                     "");
    ck_assert_str_eq(in("<presence from='mallory@a.test/pc' to='w\\40b.test@status.a.test'/>"), "");
    /* Denial of another request. */
    in("<presence from='v@b.test/r' to='ask@status.a.test' type='subscribe'/>");
    ck_assert_str_eq(in("<presence from='owner@a.test' to='v\\40b.test@status.a.test' "
                        "type='unsubscribed'/>"),
                     "<presence from='ask@status.a.test' to='v@b.test' type='unsubscribed'/>\n");
    ck_assert_str_eq(row_of("ask", "v@b.test"), "absent");
    /* Someone else answering at a relay address decides nothing. */
    in("<presence from='u@b.test/r' to='ask@status.a.test' type='subscribe'/>");
    ck_assert_str_eq(in("<presence from='mallory@a.test' to='u\\40b.test@status.a.test' "
                        "type='subscribed'/>"),
                     "");
    ck_assert_str_eq(in("<presence from='x@c.test' to='u\\40b.test@status.a.test' "
                        "type='subscribed'/>"),
                     ""); /* nor is a stranger answered with anything */
    ck_assert_str_eq(row_of("ask", "u@b.test"), "None + Pending In");
    /* An unsubscribed at a watcher's relay address changes nothing: the
     * owner's server may send one by itself in answer to the release
     * (ejabberd does); the owner revokes with the revoke command. */
    ck_assert_str_eq(in("<presence from='owner@a.test' to='w\\40b.test@status.a.test' "
                        "type='unsubscribed'/>"),
                     "");
    ck_assert_str_eq(row_of("ask", "w@b.test"), "From");
    /* A channel without owner cannot approve: refused. */
    ck_assert_str_eq(in("<presence from='w@b.test/r' to='lone@status.a.test' type='subscribe'/>"),
                     "<presence from='lone@status.a.test' to='w@b.test' type='unsubscribed'/>\n");
}
END_TEST

START_TEST(test_pending_cap)
{
    in("<presence from='a1@b.test' to='ask@status.a.test' type='subscribe'/>");
    in("<presence from='a2@b.test' to='ask@status.a.test' type='subscribe'/>");
    in("<presence from='a3@b.test' to='ask@status.a.test' type='subscribe'/>");
    ck_assert_str_eq(in("<presence from='a4@b.test' to='ask@status.a.test' type='subscribe'/>"),
                     "<presence from='ask@status.a.test' to='a4@b.test' type='unsubscribed'/>\n");
    ck_assert_str_eq(row_of("ask", "a4@b.test"), "absent");
}
END_TEST

START_TEST(test_preapproval_by_admin)
{
    sql("INSERT INTO roster (channel, jid, approved) VALUES ('shut', 'w@b.test', 1)");
    home_free(&home);
    make_home(10);
    ck_assert_str_eq(in("<presence from='w@b.test/r' to='shut@status.a.test' type='subscribe'/>"),
                     "<presence from='shut@status.a.test' to='w@b.test' type='subscribed'/>\n"
                     "<presence from='shut@status.a.test' type='unavailable' to='w@b.test'/>\n");
    ck_assert_str_eq(row_of("shut", "w@b.test"), "From");
}
END_TEST

START_TEST(test_bad_input)
{
    /* Unknown type: bad-request. */
    ck_assert_str_eq(
        in("<presence from='w@b.test/r' to='" CH "' type='bogus'/>"),
        "<presence from='" CH "' to='w@b.test/r' type='error'><error type='modify'>"
        "<bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>\n");
    /* Malformed to. */
    ck_assert_ptr_nonnull(strstr(in("<presence from='w@b.test/r' to='a b@status.a.test' "
                                    "type='subscribe'/>"),
                                 "jid-malformed"));
    /* An over-long localpart (RFC 7622: at most 1023 bytes). */
    {
        char buf[1300];
        memset(buf, 'a', 1024);
        buf[1024] = '\0';
        char xml[1500];
        snprintf(xml, sizeof(xml),
                 "<presence from='w@b.test/r' to='%s@status.a.test' type='probe'/>", buf);
        ck_assert_ptr_nonnull(strstr(in(xml), "jid-malformed"));
    }
    /* Malformed or missing from: nobody to answer. */
    ck_assert_str_eq(in("<presence from='w@@b' to='" CH "' type='subscribe'/>"), "");
    ck_assert_str_eq(in("<presence to='" CH "' type='subscribe'/>"), "");
    /* The bare domain has no presence. */
    ck_assert_str_eq(in("<presence from='w@b.test/r' to='status.a.test' type='subscribe'/>"),
                     "<presence from='status.a.test' to='w@b.test' type='unsubscribed'/>\n");
    ck_assert_str_eq(in("<presence from='w@b.test/r' to='status.a.test'/>"), "");
    /* Errors are never answered. */
    ck_assert_str_eq(in("<presence from='w@b.test/r' to='" CH "' type='error'/>"), "");
    /* Invalid owner presence is not used. */
    bind_owner();
    in("<presence from='w@b.test/r' to='" CH "' type='subscribe'/>");
    ck_assert_str_eq(
        in("<presence from='owner@a.test/pc' to='" CH "'><show>busy</show></presence>"), "");
}
END_TEST

START_TEST(test_subscribe_flood)
{
    home_free(&home);
    make_home(3);
    for (int i = 0; i < 3; i++)
        ck_assert_str_ne(in("<presence from='f@b.test/r' to='" CH "' type='subscribe'/>"), "");
    ck_assert_str_eq(in("<presence from='f@b.test/r' to='" CH "' type='subscribe'/>"), "");
    ck_assert_str_eq(in("<presence from='f@b.test/r' to='" CH "' type='unsubscribe'/>"), "");
    ck_assert_uint_eq(home_stats(home)->rate_limited, 2);
    /* Others are not affected. */
    ck_assert_str_ne(in("<presence from='g@b.test/r' to='" CH "' type='subscribe'/>"), "");
    /* An owner answering many requests is no flood: each answer acts on
     * a pending request only (here six answers, in two rounds of the
     * three pending requests the channel may hold, past a burst of 3). */
    for (int i = 0; i < 6; i++) {
        char xml[160], who[32];
        snprintf(xml, sizeof(xml),
                 "<presence from='p%d@b.test/r' to='ask@status.a.test' type='subscribe'/>", i);
        in(xml);
        if (i % 3 != 2)
            continue;
        for (int k = i - 2; k <= i; k++) {
            snprintf(xml, sizeof(xml),
                     "<presence from='owner@a.test' to='p%d\\40b.test@status.a.test' "
                     "type='subscribed'/>",
                     k);
            ck_assert_ptr_nonnull(strstr(in(xml), "type='subscribed'"));
            snprintf(who, sizeof(who), "p%d@b.test", k);
            ck_assert_str_eq(row_of("ask", who), "From");
        }
    }
    ck_assert_uint_eq(home_stats(home)->rate_limited, 2);
}
END_TEST

/* Many senders of one domain share the domain's bucket
 * ([limits] domain_subscription_burst); other domains are not affected,
 * and one sender's own limit comes first. */
START_TEST(test_subscribe_flood_one_domain)
{
    char xml[160];
    make_flood_home(5, 0);
    for (int i = 0; i < 5; i++) {
        snprintf(xml, sizeof(xml),
                 "<presence from='u%d@evil.test/r' to='" CH "' type='subscribe'/>", i);
        ck_assert_str_ne(in(xml), "");
    }
    ck_assert_str_eq(in("<presence from='u9@evil.test/r' to='" CH "' type='subscribe'/>"), "");
    ck_assert_str_eq(row_of("pub", "u9@evil.test"), "absent");
    ck_assert_uint_eq(home_stats(home)->rate_limited, 1);
    /* Another domain, and a subdomain, have buckets of their own. */
    ck_assert_str_ne(in("<presence from='u9@good.test/r' to='" CH "' type='subscribe'/>"), "");
    ck_assert_str_ne(in("<presence from='u9@x.evil.test/r' to='" CH "' type='subscribe'/>"), "");
    /* A minute later the domain has room again. */
    now_s += 60;
    ck_assert_str_ne(in("<presence from='u9@evil.test/r' to='" CH "' type='subscribe'/>"), "");
    ck_assert_uint_eq(home_stats(home)->rate_limited, 1);
}
END_TEST

static int lease_count(void)
{
    sqlite3_stmt *st = NULL;
    int n = -1;
    ck_assert_int_eq(
        sqlite3_prepare_v2(store_handle(store), "SELECT count(*) FROM node_lease", -1, &st, NULL),
        SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* New node subscriptions (a lease asked by a node without one on the
 * channel) share one bucket across all nodes ([limits]
 * node_subscription_burst): many node domains cannot add rows without
 * bound.  Renewals of leases already granted are not counted. */
START_TEST(test_new_node_subscriptions_limited)
{
    char xml[200];
    make_flood_home(0, 3);
    for (int i = 1; i <= 5; i++) {
        snprintf(xml, sizeof(xml),
                 "<presence from='status%d.evil.test' to='" CH "' type='subscribe'>"
                 "<lease xmlns='urn:chanstat:federation:0' seconds='600'/></presence>",
                 i);
        const char *o = in(xml);
        if (i <= 3) {
            ck_assert_ptr_nonnull(strstr(o, "type='subscribed'"));
        } else {
            ck_assert_str_eq(o, "");
        }
    }
    ck_assert_str_eq(row_of("pub", "status3.evil.test"), "From");
    ck_assert_str_eq(row_of("pub", "status4.evil.test"), "absent");
    ck_assert_int_eq(lease_count(), 3);
    ck_assert_uint_eq(home_stats(home)->rate_limited, 2);
    /* A renewal passes with the bucket empty. */
    ck_assert_ptr_nonnull(
        strstr(in("<presence from='status1.evil.test' to='" CH "' type='subscribe'><lease "
                  "xmlns='urn:chanstat:federation:0' seconds='600'/></presence>"),
               "type='subscribed'"));
    /* A second later (60 a minute) one more node gets in. */
    now_s += 1;
    ck_assert_ptr_nonnull(
        strstr(in("<presence from='status4.evil.test' to='" CH "' type='subscribe'><lease "
                  "xmlns='urn:chanstat:federation:0' seconds='600'/></presence>"),
               "type='subscribed'"));
    ck_assert_str_eq(in("<presence from='status5.evil.test' to='" CH "' type='subscribe'><lease "
                        "xmlns='urn:chanstat:federation:0' seconds='600'/></presence>"),
                     "");
    ck_assert_int_eq(lease_count(), 4);
}
END_TEST

/* Rows written by hand before the database refused them (or with its
 * triggers dropped) never reach the wire: invalid JIDs are skipped and
 * logged, nothing is pasted into XML. */
START_TEST(test_bad_database_rows_skipped)
{
    bind_owner();
    sql("DROP TRIGGER roster_jid_safe_insert;"
        "INSERT INTO roster (channel, jid, subscription) VALUES"
        " ('pub', 'o''brien@a.test', 'from'),"
        " ('pub', 'x@a.test''><message' || char(10) || 'to=''victim.test''><body>injected',"
        " 'from'),"
        " ('pub', 'Upper@A.TEST', 'from'), ('pub', 'good@a.test', 'from')");
    home_free(&home);
    make_home(10);
    home_online(home, now_s * 1000); /* the owner approved before: a probe */
    pump();
    const char *o =
        in("<presence from='owner@a.test/pc' to='" CH "'><status>s</status></presence>");
    ck_assert_ptr_nonnull(strstr(o, "' to='good@a.test' from='" CH "'>"));
    ck_assert_ptr_null(strstr(o, "brien"));
    ck_assert_ptr_null(strstr(o, "victim"));
    ck_assert_ptr_null(strstr(o, "Upper"));
    ck_assert_ptr_null(strstr(o, "A.TEST"));
    /* Every line is one well-formed stanza. */
    char *copy = xstrdup(o), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct xml_node *st = xml_parse_one(line, strlen(line));
        ck_assert_msg(st != NULL, "ill-formed: %s", line);
        xml_free(st);
    }
    free(copy);
}
END_TEST

/* A presence error from the owner (their server refused the binding
 * request) is retried on a timer, not only at the next reconnect. */
START_TEST(test_owner_error_retried)
{
    bind_owner();
    ck_assert_str_eq(in("<presence from='owner@a.test' to='" CH "' type='error'>"
                        "<error type='wait'><remote-server-timeout "
                        "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>"),
                     "");
    out.len = 0;
    home_tick(home, (now_s + 30) * 1000);
    ck_assert_uint_eq(out.len, 0); /* not yet */
    home_tick(home, (now_s + 61) * 1000);
    ck_assert_ptr_nonnull(
        strstr(out.data, "<presence from='" CH "' to='owner@a.test' type='probe'/>"));
    /* Once only. */
    out.len = 0;
    home_tick(home, (now_s + 200) * 1000);
    ck_assert_uint_eq(out.len, 0);
}
END_TEST

/* Presence to malformed relay addresses: answered or dropped, no leak. */
START_TEST(test_relay_address_leaks)
{
    for (int i = 0; i < 200; i++) {
        in("<presence from='w@b.test/r' to='a\\40b.org\\2fr@status.a.test' type='unavailable'/>");
        ck_assert_ptr_nonnull(strstr(in("<presence from='w@b.test/r' "
                                        "to='AAAA\\2fx\\40c@status.a.test' type='probe'/>"),
                                     "jid-malformed"));
    }
}
END_TEST

START_TEST(test_last_activity)
{
    bind_owner();
    in("<presence from='w@b.test/r' to='" CH "' type='subscribe'/>");
    ck_assert_ptr_nonnull(strstr(in("<iq type='get' id='l1' from='w@b.test/r' to='" CH "'>"
                                    "<query xmlns='jabber:iq:last'/></iq>"),
                                 "item-not-found"));
    in("<presence from='owner@a.test/pc' to='" CH "'/>");
    ck_assert_str_eq(in("<iq type='get' id='l2' from='w@b.test/r' to='" CH "'>"
                        "<query xmlns='jabber:iq:last'/></iq>"),
                     "<iq from='" CH "' to='w@b.test/r' id='l2' type='result'>"
                     "<query xmlns='jabber:iq:last' seconds='0'/></iq>\n");
    /* A stranger may not learn it (XEP-0012 section 4). */
    ck_assert_ptr_nonnull(strstr(in("<iq type='get' id='l3' from='x@b.test/r' to='" CH "'>"
                                    "<query xmlns='jabber:iq:last'/></iq>"),
                                 "<forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"));
    /* Gone for a while: seconds since last seen. */
    in("<presence from='owner@a.test/pc' to='" CH "' type='unavailable'/>");
    now_s = 1100;
    ck_assert_ptr_nonnull(strstr(in("<iq type='get' id='l4' from='w@b.test/r' to='" CH "'>"
                                    "<query xmlns='jabber:iq:last'/></iq>"),
                                 "seconds='100'"));
    /* Last seen survives a restart (persisted in channel_state). */
    home_free(&home);
    make_home(10);
    now_s = 1200;
    ck_assert_ptr_nonnull(strstr(in("<iq type='get' id='l5' from='w@b.test/r' to='" CH "'>"
                                    "<query xmlns='jabber:iq:last'/></iq>"),
                                 "seconds='200'"));
    /* disco#info of a channel is the service's (check_service.c). */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("home");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_open_subscribe_gets_subscribed_and_status);
    tcase_add_test(tc, test_owner_status_fans_out);
    tcase_add_test(tc, test_bad_database_rows_skipped);
    tcase_add_test(tc, test_owner_error_retried);
    tcase_add_test(tc, test_relay_address_leaks);
    tcase_add_test(tc, test_probe);
    tcase_add_test(tc, test_unsubscribe_and_revoke);
    tcase_add_test(tc, test_closed_and_unknown);
    tcase_add_test(tc, test_approve_policy);
    tcase_add_test(tc, test_pending_cap);
    tcase_add_test(tc, test_preapproval_by_admin);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_subscribe_flood);
    tcase_add_test(tc, test_subscribe_flood_one_domain);
    tcase_add_test(tc, test_new_node_subscriptions_limited);
    tcase_add_test(tc, test_last_activity);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
