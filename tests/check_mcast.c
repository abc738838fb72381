/* check_mcast.c - status fan-out in XEP-0033 batches: discovery of the
 * service and its limit, batches sized to the limit and the output's
 * room, watchers elsewhere sent singly, every watcher exactly once, and a
 * refused batch sent again one stanza per watcher. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cs_config.h"
#include "cs_hash.h"
#include "cs_home.h"
#include "cs_log.h"
#include "cs_mcast.h"
#include "cs_node.h"
#include "cs_stats.h"
#include "cs_store.h"
#include "cs_xml.h"
#include "testout.h"
#include "testutil.h"

#define CH "pub@status.a.test"
#define INFO_NS "http://jabber.org/protocol/disco#info"
#define ITEMS_NS "http://jabber.org/protocol/disco#items"

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

static void start_node(void)
{
    char err[256];
    testout_init(&T);
    node = node_new(&cfg, store, &T.path, 0, err, sizeof(err));
    ck_assert_msg(node != NULL, "%s", err);
}

static void setup(void)
{
    char err[256], path[128];
    log_init(getenv("MCDEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR, false, "check_mcast");
    snprintf(dir, sizeof(dir), "/tmp/check_mcast.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/db", dir);
    config_defaults(&cfg);
    cfg.domain = xstrdup("status.a.test");
    ck_assert_int_eq(store_open(path, &cfg, &store, err, sizeof(err)), 0);
    sql("INSERT INTO channel (name, owner) VALUES ('pub', 'o@a.test');"
        "INSERT INTO roster (channel, jid, subscription) VALUES ('pub', 'o@a.test', 'to')");
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

static void one(const char *xml)
{
    struct xml_node *st = test_parse_stanza(xml);
    node_stanza(node, st, now_ms);
    xml_free(st);
    node_batch_end(node, now_ms);
}

/* n watchers wI@domain of pub. */
static void watchers(int n, const char *domain)
{
    char q[512];
    snprintf(q, sizeof(q),
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
             " INSERT INTO roster (channel, jid, subscription)"
             " SELECT 'pub', 'w' || i || '@%s', 'from' FROM n",
             n, domain);
    sql(q);
}

/* The id of the first iq get in out to `to` asking ns; "" when none. */
static void iq_id(const char *out, const char *to, const char *ns, char id[64])
{
    id[0] = '\0';
    for (const char *l = out; *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        struct xml_node *x = xml_parse_one(l, len);
        if (x && strcmp(x->name, "iq") == 0 && strcmp(xml_attr(x, "to"), to) == 0 &&
            xml_child(x, "query", ns)) {
            snprintf(id, 64, "%s", xml_attr(x, "id"));
            xml_free(x);
            return;
        }
        xml_free(x);
        l += len + (e ? 1 : 0);
    }
}

/* Answers the pending disco#info to `to` with the XEP-0033 feature and,
 * when limit > 0, the limit form. */
static void answer_info(const char *out, const char *to, int limit)
{
    char id[64], iq[1024], form[512] = "";
    iq_id(out, to, INFO_NS, id);
    ck_assert_msg(id[0], "no disco#info to %s in: %s", to, out);
    if (limit > 0)
        snprintf(form, sizeof(form),
                 "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>"
                 "<value>" NS_ADDRESS "</value></field><field var='message'><value>7</value>"
                 "</field><field var='presence'><value>%d</value></field></x>",
                 limit);
    snprintf(iq, sizeof(iq),
             "<iq type='result' id='%s' from='%s' to='status.a.test'><query xmlns='" INFO_NS
             "'><identity category='service' type='multicast'/><feature var='" NS_ADDRESS
             "'/>%s</query></iq>",
             id, to, form);
    one(iq);
}

/* What the output says, presence by presence. */
struct seen {
    struct hash got;  /* recipient -> count (as (void *)(uintptr_t)) */
    unsigned batches; /* presences to the service */
    unsigned singles; /* presences to a watcher */
    unsigned largest; /* addresses in the largest batch */
    struct hash ids;  /* every id seen (keys owned by keep) */
    char **keep;
    size_t nkeep;
    bool dup_id;
    char *body; /* children of the first presence, serialised */
};

static void seen_add(struct seen *s, const char *jid)
{
    uintptr_t n = (uintptr_t)hash_get(&s->got, jid);
    if (n == 0) {
        s->keep = xrealloc(s->keep, (s->nkeep + 1) * sizeof(*s->keep));
        s->keep[s->nkeep] = xstrdup(jid);
        jid = s->keep[s->nkeep++];
    }
    hash_put(&s->got, jid, (void *)(n + 1));
}

static unsigned seen_count(const struct seen *s, const char *jid)
{
    return (unsigned)(uintptr_t)hash_get(&s->got, jid);
}

/* Children of a presence other than <addresses/>, serialised in order. */
static char *children(const struct xml_node *p)
{
    struct strbuf sb = {0};
    for (const struct xml_node *c = xml_first_elem(p); c; c = xml_next_elem(c)) {
        if (strcmp(c->name, "addresses") != 0)
            xml_serialize(c, XML_NS_COMPONENT, &sb);
    }
    strbuf_append(&sb, "", 0);
    if (sb.data == NULL)
        return xstrdup("");
    return sb.data;
}

/* Reads the fan-out presences from `from` in out: batches to service,
 * singles to anyone else.  Every presence must carry an id of its own and
 * the same children (the status, the avatar hash). */
static void read_out(struct seen *s, const char *out, const char *service)
{
    for (const char *l = out; *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        struct xml_node *x = xml_parse_one(l, len);
        l += len + (e ? 1 : 0);
        if (x == NULL || strcmp(x->name, "presence") != 0 || xml_attr(x, "from") == NULL ||
            strcmp(xml_attr(x, "from"), CH) != 0 || xml_attr(x, "id") == NULL ||
            strncmp(xml_attr(x, "id"), "fo", 2) != 0) {
            xml_free(x);
            continue;
        }
        {
            const char *id = xml_attr(x, "id");
            char *body = children(x);
            if (hash_get(&s->ids, id))
                s->dup_id = true;
            s->keep = xrealloc(s->keep, (s->nkeep + 1) * sizeof(*s->keep));
            s->keep[s->nkeep] = xstrdup(id);
            hash_put(&s->ids, s->keep[s->nkeep], (void *)1);
            s->nkeep++;
            if (s->body == NULL)
                s->body = body;
            else {
                ck_assert_str_eq(body, s->body);
                free(body);
            }
        }
        if (service && strcmp(xml_attr(x, "to"), service) == 0) {
            struct xml_node *a = xml_child(x, "addresses", NS_ADDRESS);
            unsigned n = 0;
            ck_assert_ptr_nonnull(a);
            for (const struct xml_node *ad = xml_first_elem(a); ad; ad = xml_next_elem(ad)) {
                ck_assert_str_eq(xml_attr(ad, "type"), "bcc");
                seen_add(s, xml_attr(ad, "jid"));
                n++;
            }
            ck_assert_uint_gt(n, 0);
            if (n > s->largest)
                s->largest = n;
            s->batches++;
        } else {
            ck_assert_ptr_null(xml_child(x, "addresses", NS_ADDRESS));
            seen_add(s, xml_attr(x, "to"));
            s->singles++;
        }
        xml_free(x);
    }
}

static void seen_free(struct seen *s)
{
    hash_clear(&s->got);
    hash_clear(&s->ids);
    for (size_t i = 0; i < s->nkeep; i++)
        free(s->keep[i]);
    free(s->keep);
    free(s->body);
    memset(s, 0, sizeof(*s));
}

/* Every wI@domain for I in [1, n] was reached exactly `times` times. */
static void each_once(const struct seen *s, int n, const char *domain, unsigned times)
{
    for (int i = 1; i <= n; i++) {
        char jid[64];
        snprintf(jid, sizeof(jid), "w%d@%s", i, domain);
        ck_assert_msg(seen_count(s, jid) == times, "%s reached %u times, not %u", jid,
                      seen_count(s, jid), times);
    }
}

static char *status_change(const char *text)
{
    char p[256];
    free(testout_take(&T));
    snprintf(p, sizeof(p),
             "<presence from='o@a.test/pc' to='" CH "'><show>away</show><status>%s</status>"
             "</presence>",
             text);
    one(p);
    return testout_take(&T);
}

/* The server's own domain offers the service and shows its limit:
 * batches of that size, to it; the watchers of another domain and a
 * node's bare domain get their own stanza; each watcher once. */
START_TEST(test_batches_to_the_domain)
{
    struct seen s = {0};
    char *o;
    watchers(7, "a.test");
    watchers(2, "b.test");
    sql("INSERT INTO roster (channel, jid, subscription) VALUES ('pub', 'status.b.test', 'from')");
    start_node();
    node_online(node, now_ms);
    o = testout_take(&T);
    answer_info(o, "a.test", 3);
    free(o);
    o = status_change("lunch");
    read_out(&s, o, "a.test");
    each_once(&s, 7, "a.test", 1);
    each_once(&s, 2, "b.test", 1);
    ck_assert_uint_eq(seen_count(&s, "status.b.test"), 1);
    ck_assert_uint_eq(s.batches, 3); /* 3 + 3 + 1 */
    ck_assert_uint_eq(s.largest, 3);
    ck_assert_uint_eq(s.singles, 3);
    ck_assert(!s.dup_id);
    ck_assert_str_eq(s.body, "<show>away</show><status>lunch</status>"
                             "<x xmlns='vcard-temp:x:update'><photo/></x>");
    /* The batch carries the status after the addresses, as XEP-0033
     * section 3 has it, from the channel's address. */
    ck_assert_ptr_nonnull(strstr(o, "' to='a.test' from='" CH "'><addresses xmlns='" NS_ADDRESS
                                    "'><address type='bcc' jid='w"));
    free(o);
    seen_free(&s);

    /* Unavailable: the self-closing form gets a body too. */
    free(testout_take(&T));
    one("<presence from='o@a.test/pc' to='" CH "' type='unavailable'/>");
    o = testout_take(&T);
    read_out(&s, o, "a.test");
    each_once(&s, 7, "a.test", 1);
    ck_assert_ptr_nonnull(strstr(o, "' to='a.test' from='" CH "' type='unavailable'><addresses "
                                    "xmlns='" NS_ADDRESS "'><address type='bcc' jid='w"));
    ck_assert_ptr_nonnull(strstr(o, "'/></addresses></presence>"));
    free(o);
    seen_free(&s);
    {
        const struct stats *st = node_counters(node);
        now_ms += 1000;
        node_tick(node, now_ms);
        ck_assert_uint_eq(st->v[STAT_MCAST_BATCHES], 6);
        ck_assert_uint_eq(st->v[STAT_MCAST_BATCHED], 14);
        ck_assert_uint_eq(st->v[STAT_DELIVERIES], 20);
    }
    /* A service found is asked again after MCAST_RECHECK_MS. */
    free(testout_take(&T));
    now_ms += MCAST_RECHECK_MS;
    node_tick(node, now_ms);
    o = testout_take(&T);
    ck_assert_ptr_nonnull(strstr(o, "disco#info"));
    free(o);
}
END_TEST

/* No feature at the domain: its items are asked in turn; the one with
 * the feature and no limit shown gets MCAST_DEFAULT_LIMIT. */
START_TEST(test_service_among_items)
{
    struct seen s = {0};
    char *o, id[64], iq[512];
    watchers(45, "a.test");
    start_node();
    node_online(node, now_ms);
    o = testout_take(&T);
    iq_id(o, "a.test", INFO_NS, id);
    free(o);
    snprintf(iq, sizeof(iq),
             "<iq type='result' id='%s' from='a.test' to='status.a.test'><query xmlns='" INFO_NS
             "'><identity category='server' type='im'/><feature var='" INFO_NS "'/></query></iq>",
             id);
    one(iq);
    o = testout_take(&T);
    iq_id(o, "a.test", ITEMS_NS, id);
    ck_assert(id[0]);
    free(o);
    snprintf(iq, sizeof(iq),
             "<iq type='result' id='%s' from='a.test' to='status.a.test'><query xmlns='" ITEMS_NS
             "'><item jid='conference.a.test'/><item jid='a.test' node='x'/>"
             "<item jid='multicast.a.test'/></query></iq>",
             id);
    one(iq);
    o = testout_take(&T);
    iq_id(o, "conference.a.test", INFO_NS, id);
    free(o);
    snprintf(iq, sizeof(iq),
             "<iq type='error' id='%s' from='conference.a.test' to='status.a.test'><query "
             "xmlns='" INFO_NS "'/><error type='cancel'><service-unavailable xmlns="
             "'urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
             id);
    one(iq);
    o = testout_take(&T);
    answer_info(o, "multicast.a.test", 0);
    free(o);
    o = status_change("x");
    read_out(&s, o, "multicast.a.test");
    each_once(&s, 45, "a.test", 1);
    ck_assert_uint_eq(s.largest, MCAST_DEFAULT_LIMIT);
    ck_assert_uint_eq(s.batches, 3);
    ck_assert_uint_eq(s.singles, 0);
    free(o);
    seen_free(&s);
}
END_TEST

/* Nothing offered (or no answer): one stanza per watcher; asked again
 * after MCAST_RECHECK_MS.  multicast = off: never asked. */
START_TEST(test_nothing_offered)
{
    struct seen s = {0};
    char *o, id[64], iq[512];
    watchers(5, "a.test");
    start_node();
    node_online(node, now_ms);
    o = testout_take(&T);
    iq_id(o, "a.test", INFO_NS, id);
    free(o);
    snprintf(iq, sizeof(iq),
             "<iq type='result' id='%s' from='a.test' to='status.a.test'><query xmlns='" INFO_NS
             "'/></iq>",
             id);
    one(iq);
    o = testout_take(&T);
    iq_id(o, "a.test", ITEMS_NS, id);
    free(o);
    /* A forged answer from a user is ignored; the timeout counts as none. */
    snprintf(
        iq, sizeof(iq),
        "<iq type='result' id='%s' from='w1@a.test/r' to='status.a.test'><query xmlns='" ITEMS_NS
        "'><item jid='evil.b.test'/></query></iq>",
        id);
    one(iq);
    now_ms += cfg.fed_request_timeout_ms + 1000;
    node_tick(node, now_ms);
    o = status_change("y");
    read_out(&s, o, NULL);
    each_once(&s, 5, "a.test", 1);
    ck_assert_uint_eq(s.singles, 5);
    ck_assert_ptr_null(strstr(o, "evil"));
    free(o);
    seen_free(&s);
    now_ms += MCAST_RECHECK_MS;
    node_tick(node, now_ms);
    o = testout_take(&T);
    iq_id(o, "a.test", INFO_NS, id);
    ck_assert_msg(id[0], "asked again: %s", o);
    free(o);
    node_free(&node);
    testout_deinit(&T);

    cfg.multicast = false;
    start_node();
    node_online(node, now_ms);
    o = testout_take(&T);
    ck_assert_ptr_null(strstr(o, "disco#info"));
    free(o);
}
END_TEST

/* The id of the batch that lists jid, "" when none. */
static void batch_of(const char *out, const char *jid, char id[64])
{
    char needle[128];
    const char *p, *start;
    id[0] = '\0';
    snprintf(needle, sizeof(needle), "jid='%s'/>", jid);
    p = strstr(out, needle);
    if (p == NULL)
        return;
    for (start = p; start > out && start[-1] != '\n'; start--)
        ;
    ck_assert_int_eq(sscanf(start, "<presence id='%63[^']'", id), 1);
}

static void refuse(const char *id, const char *from, const char *cond)
{
    char p[512];
    snprintf(p, sizeof(p),
             "<presence type='error' id='%s' from='%s' to='" CH "'><error type='modify'><%s "
             "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>",
             id, from, cond);
    one(p);
}

/* A refused batch: its watchers get the current status singly, nothing
 * lost; the service is asked again at once and its new limit used.  A
 * second refusal soon after: one stanza per watcher until retry_ms has
 * passed.  An error with a batch's id from anyone but the service does
 * nothing of the kind. */
START_TEST(test_refused_batch)
{
    struct seen s = {0};
    char *o, id[64], id2[64];
    watchers(7, "a.test");
    start_node();
    node_online(node, now_ms);
    o = testout_take(&T);
    answer_info(o, "a.test", 3);
    free(o);
    o = status_change("one");
    batch_of(o, "w4@a.test", id);
    batch_of(o, "w1@a.test", id2);
    ck_assert(id[0] && id2[0] && strcmp(id, id2) != 0);
    free(o);

    /* Forged: a user cannot make us resend. */
    refuse(id, "w1@a.test/r", "not-acceptable");
    o = testout_take(&T);
    ck_assert_ptr_null(strstr(o, "to='w4@a.test'"));
    free(o);

    refuse(id, "a.test", "not-acceptable");
    o = testout_take(&T);
    read_out(&s, o, "a.test");
    /* w4-w6 singly, with the status; and the service asked again. */
    each_once(&s, 3, "a.test", 0);
    ck_assert_uint_eq(seen_count(&s, "w4@a.test"), 1);
    ck_assert_uint_eq(seen_count(&s, "w5@a.test"), 1);
    ck_assert_uint_eq(seen_count(&s, "w6@a.test"), 1);
    ck_assert_uint_eq(s.singles, 3);
    ck_assert_ptr_nonnull(strstr(o, "<status>one</status>"));
    iq_id(o, "a.test", INFO_NS, id);
    ck_assert(id[0]);
    seen_free(&s);
    /* Asking: one stanza per watcher meanwhile. */
    {
        char *o2 = status_change("two");
        read_out(&s, o2, "a.test");
        ck_assert_uint_eq(s.singles, 7);
        ck_assert_uint_eq(s.batches, 0);
        free(o2);
        seen_free(&s);
    }
    answer_info(o, "a.test", 2);
    free(o);
    o = status_change("three");
    read_out(&s, o, "a.test");
    each_once(&s, 7, "a.test", 1);
    ck_assert_uint_eq(s.largest, 2);
    ck_assert_uint_eq(s.batches, 4);
    seen_free(&s);

    /* Refused again within retry_ms: no batches until it has passed. */
    batch_of(o, "w7@a.test", id);
    free(o);
    now_ms += 1000;
    refuse(id, "a.test", "forbidden");
    free(testout_take(&T));
    o = status_change("four");
    read_out(&s, o, "a.test");
    ck_assert_uint_eq(s.batches, 0);
    ck_assert_uint_eq(s.singles, 7);
    ck_assert_ptr_null(strstr(o, "disco#info"));
    free(o);
    seen_free(&s);
    now_ms += cfg.fed_retry_ms;
    node_tick(node, now_ms);
    o = testout_take(&T);
    answer_info(o, "a.test", 2);
    free(o);
    o = status_change("five");
    read_out(&s, o, "a.test");
    ck_assert_uint_eq(s.batches, 4);
    free(o);
    seen_free(&s);
    {
        const struct stats *st = node_counters(node);
        now_ms += 1000;
        node_tick(node, now_ms);
        ck_assert_uint_eq(st->v[STAT_MCAST_REFUSED], 2);
        ck_assert_uint_eq(st->v[STAT_MCAST_FALLBACKS], 4);
    }
}
END_TEST

/* A refusal after the watcher left: not sent to it.  A refusal after the
 * batch was forgotten (MCAST_HOLD_MS): handled as any presence error. */
START_TEST(test_refusal_late_or_left)
{
    char *o, id[64];
    watchers(4, "a.test");
    start_node();
    node_online(node, now_ms);
    o = testout_take(&T);
    answer_info(o, "a.test", 10);
    free(o);
    o = status_change("one");
    batch_of(o, "w1@a.test", id);
    free(o);
    one("<presence from='w2@a.test/r' to='" CH "' type='unsubscribe'/>");
    free(testout_take(&T));
    refuse(id, "a.test", "not-acceptable");
    o = testout_take(&T);
    ck_assert_ptr_nonnull(strstr(o, "to='w1@a.test'"));
    ck_assert_ptr_null(strstr(o, "to='w2@a.test'"));
    ck_assert_ptr_nonnull(strstr(o, "to='w3@a.test'"));
    answer_info(o, "a.test", 10);
    free(o);
    now_ms += 1000;
    o = status_change("two");
    batch_of(o, "w1@a.test", id);
    free(o);
    now_ms += MCAST_HOLD_MS;
    node_tick(node, now_ms);
    free(testout_take(&T));
    refuse(id, "a.test", "not-acceptable");
    o = testout_take(&T);
    ck_assert_ptr_null(strstr(o, "to='w1@a.test'"));
    free(o);
}
END_TEST

/* Under back-pressure batches shrink to the room (never below 2 KiB),
 * the cursor stays exact: 3,000 watchers, each once, with a watcher
 * leaving and one joining mid-way. */
START_TEST(test_batches_under_back_pressure)
{
    struct seen s = {0};
    unsigned rounds = 0;
    char *o;
    watchers(3000, "a.test");
    start_node();
    node_online(node, now_ms);
    o = testout_take(&T);
    answer_info(o, "a.test", 1000);
    free(o);
    T.room = 4096;
    one("<presence from='o@a.test/pc' to='" CH "'><status>first</status></presence>");
    while (rounds < 300) {
        T.room = 4096;
        node_drained(node, now_ms);
        rounds++;
        if (rounds == 3) {
            one("<presence from='w2999@a.test/r' to='" CH "' type='unsubscribe'/>");
            one("<presence from='n@a.test/r' to='" CH "' type='subscribe'/>");
        }
    }
    o = testout_take(&T);
    read_out(&s, o, "a.test");
    ck_assert_uint_gt(s.batches, 20); /* it really was paced */
    for (int i = 1; i < 2999; i++) {
        char jid[32];
        snprintf(jid, sizeof(jid), "w%d@a.test", i);
        ck_assert_msg(seen_count(&s, jid) == 1, "%s reached %u times", jid, seen_count(&s, jid));
    }
    ck_assert_uint_eq(seen_count(&s, "w2999@a.test"), 0);
    ck_assert_uint_lt(s.largest, 1000); /* cut by the room, not the limit */
    ck_assert_uint_gt(s.largest, 20);
    ck_assert(!s.dup_id);
    free(o);
    seen_free(&s);
}
END_TEST

/* Watchers elsewhere met while building a batch are paced like any
 * single stanza: a round never writes much past the room, whatever the
 * mix (one local watcher, 3,000 of another domain, 3,000 local). */
START_TEST(test_mixed_watchers_paced)
{
    struct seen s = {0};
    char *o;
    watchers(1, "a.test");
    watchers(3000, "b.test");
    sql("WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 3001)"
        " INSERT INTO roster (channel, jid, subscription)"
        " SELECT 'pub', 'w' || i || '@a.test', 'from' FROM n");
    start_node();
    node_online(node, now_ms);
    o = testout_take(&T);
    answer_info(o, "a.test", 1000);
    free(o);
    T.room = 4096;
    one("<presence from='o@a.test/pc' to='" CH "'><status>mixed</status></presence>");
    for (unsigned rounds = 0; rounds < 1000; rounds++) {
        char *r = testout_take(&T);
        ck_assert_uint_lt(strlen(r), 4096 + 2048 + 512);
        read_out(&s, r, "a.test");
        free(r);
        T.room = 4096;
        node_drained(node, now_ms);
    }
    each_once(&s, 3001, "a.test", 1);
    each_once(&s, 3000, "b.test", 1);
    ck_assert_uint_gt(s.batches, 10);
    seen_free(&s);
}
END_TEST

/* A reconnect forgets the service and held batches; asked again. */
START_TEST(test_reconnect_asks_again)
{
    struct seen s = {0};
    char *o;
    watchers(5, "a.test");
    start_node();
    node_online(node, now_ms);
    o = testout_take(&T);
    answer_info(o, "a.test", 10);
    free(o);
    node_offline(node, now_ms);
    node_online(node, now_ms);
    o = testout_take(&T);
    ck_assert_ptr_nonnull(strstr(o, "disco#info"));
    free(o);
    o = status_change("z");
    read_out(&s, o, "a.test");
    ck_assert_uint_eq(s.batches, 0); /* not yet known again */
    ck_assert_uint_eq(s.singles, 5);
    free(o);
    seen_free(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mcast");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_batches_to_the_domain);
    tcase_add_test(tc, test_service_among_items);
    tcase_add_test(tc, test_nothing_offered);
    tcase_add_test(tc, test_refused_batch);
    tcase_add_test(tc, test_refusal_late_or_left);
    tcase_add_test(tc, test_batches_under_back_pressure);
    tcase_add_test(tc, test_mixed_watchers_paced);
    tcase_add_test(tc, test_reconnect_asks_again);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
