/* check_cluster.c - one domain over a front and two homes in one
 * process (doc/cluster.md): rendezvous placement and placement rows,
 * the home's output port and inbound reading, and the three nodes
 * wired through a router standing in for the server. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cs_cluster.h"
#include "cs_config.h"
#include "cs_error.h"
#include "cs_log.h"
#include "cs_node.h"
#include "cs_place.h"
#include "cs_placement.h"
#include "cs_stanza.h"
#include "cs_store.h"
#include "testout.h"
#include "testutil.h"

#define FRONT "status.a.test"
#define H1 "h1.status.a.test"
#define H2 "h2.status.a.test"
#define NAMES 100000

/* ---- Rendezvous hashing ---- */

static void name_of(int i, char *buf, size_t len)
{
    snprintf(buf, len, "channel-%d", i);
}

START_TEST(test_adding_a_home_moves_only_its_share)
{
    const char *two[] = {H1, H2}, *three[] = {H1, H2, "h3.status.a.test"};
    unsigned moved = 0;
    char name[32];
    for (int i = 0; i < NAMES; i++) {
        size_t a, b;
        name_of(i, name, sizeof(name));
        a = place_pick(name, two, 2);
        b = place_pick(name, three, 3);
        if (a != b) {
            /* Only to the new home, never between the old ones. */
            ck_assert_uint_eq(b, 2);
            moved++;
        }
    }
    /* A third of the channels, as the new home's share. */
    ck_assert_uint_gt(moved, NAMES * 31 / 100);
    ck_assert_uint_lt(moved, NAMES * 35 / 100);
}
END_TEST

START_TEST(test_removing_a_home_moves_only_its_channels)
{
    const char *three[] = {H1, H2, "h3.status.a.test"}, *two[] = {H1, "h3.status.a.test"};
    char name[32];
    for (int i = 0; i < NAMES; i++) {
        size_t before, after;
        name_of(i, name, sizeof(name));
        before = place_pick(name, three, 3);
        after = place_pick(name, two, 2);
        if (before != 1)
            ck_assert_str_eq(two[after], three[before]);
    }
}
END_TEST

START_TEST(test_even_and_order_free)
{
    const char *homes[] = {"a.x", "b.x", "c.x", "d.x"}, *rev[] = {"d.x", "c.x", "b.x", "a.x"};
    unsigned n[4] = {0};
    char name[32];
    for (int i = 0; i < NAMES; i++) {
        size_t k;
        name_of(i, name, sizeof(name));
        k = place_pick(name, homes, 4);
        n[k]++;
        /* The list's order never matters, and a name always lands the same. */
        ck_assert_str_eq(rev[place_pick(name, rev, 4)], homes[k]);
        ck_assert_uint_eq(place_pick(name, homes, 4), k);
    }
    for (int k = 0; k < 4; k++) {
        ck_assert_uint_gt(n[k], NAMES / 4 - NAMES / 100);
        ck_assert_uint_lt(n[k], NAMES / 4 + NAMES / 100);
    }
    /* Names that differ only at the end spread too. */
    ck_assert_uint_ne(place_score("h", "ab"), place_score("h", "ac"));
    ck_assert_uint_ne(place_score("ha", "b"), place_score("h", "ab"));
}
END_TEST

/* ---- Placement rows ---- */

static char dir[64];

static struct store *open_store(struct config *cfg)
{
    char path[128], err[256];
    struct store *s;
    snprintf(dir, sizeof(dir), "/tmp/check_cluster.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/db", dir);
    config_defaults(cfg);
    ck_assert_int_eq(store_open(path, cfg, &s, err, sizeof(err)), 0);
    return s;
}

static void remove_dir(const char *d)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", d);
    ck_assert_int_eq(system(cmd), 0);
}

static void on_edit(void *ud, const char *channel)
{
    struct strbuf *sb = ud;
    strbuf_printf(sb, "%s;", channel);
}

START_TEST(test_rows_win_over_hashing)
{
    struct config cfg;
    struct store *s = open_store(&cfg);
    char err[256], *homes_v[] = {H1, H2};
    struct config_list homes = {homes_v, 2};
    struct placement *p = placement_new(s, err, sizeof(err));
    const char *hashed, *other;
    struct strbuf log = {0};
    int64_t last;
    int n;
    ck_assert_ptr_nonnull(p);
    hashed = placement_home(p, &homes, "alpha");
    ck_assert_ptr_nonnull(hashed);
    other = strcmp(hashed, H1) == 0 ? H2 : H1;
    ck_assert_int_eq(placement_set(p, "alpha", other), 0);
    ck_assert_str_eq(placement_home(p, &homes, "alpha"), other);
    /* A row naming a home not listed still wins: the admin pinned it. */
    ck_assert_int_eq(placement_set(p, "beta", "h9.status.a.test"), 0);
    ck_assert_str_eq(placement_home(p, &homes, "beta"), "h9.status.a.test");
    ck_assert_int_eq(placement_remove(p, "alpha"), 0);
    ck_assert_int_eq(placement_remove(p, "alpha"), CS_ENOTFOUND);
    ck_assert_str_eq(placement_home(p, &homes, "alpha"), hashed);
    /* Every edit is in the log, in order, and trimmed away. */
    ck_assert_int_eq(placement_edits(p, 0, 10, on_edit, &log, &last, &n), 0);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(log.data, "alpha;beta;alpha;");
    ck_assert_int_eq(placement_trim(p, last), 0);
    log.len = 0;
    ck_assert_int_eq(placement_edits(p, 0, 10, on_edit, &log, &last, &n), 0);
    ck_assert_int_eq(n, 0);
    /* Setting what is already so logs nothing. */
    ck_assert_int_eq(placement_set(p, "beta", "h9.status.a.test"), 0);
    ck_assert_int_eq(placement_edits(p, 0, 10, on_edit, &log, &last, &n), 0);
    ck_assert_int_eq(n, 0);
    strbuf_free(&log);
    placement_free(&p);
    store_close(&s);
    config_deinit(&cfg);
    remove_dir(dir);
}
END_TEST

/* ---- The home's side ---- */

START_TEST(test_home_output_goes_through_the_front)
{
    struct testout sink;
    struct homeside *hs;
    const struct out *o;
    char *got;
    static const char in[] =
        "<presence to='bob@a.test/r&amp;x&apos;y' from='alpha@" H1 "' id='fo1'>"
        "<status>to='carol@a.test' &lt;</status><x xmlns='u:x' to='carol@a.test'/></presence>"
        "<message to=\"carol@b.test\" from='alpha@" H1 "'><body>hi</body></message>"
        "<presence from='alpha@" H1 "' to='" FRONT "'/>"
        "<iq to='a.test' id='1' type='get'/>"
        "<iq to='w\\40a.test@" FRONT "/r' type='result' id='2'/>"
        "<presence to='beta@" H1 "'/>";
    testout_init(&sink);
    hs = homeside_new(H1, FRONT, &sink.path);
    o = homeside_out(hs);
    ck_assert_int_eq(o->write(o->ud, in, strlen(in)), 0);
    got = testout_take(&sink);
    ck_assert_str_eq(got, "<presence to='bob\\40a.test@" FRONT "/r&amp;x&apos;y' from='alpha@" H1
                          "' id='fo1'><status>to='carol@a.test' &lt;</status><x xmlns='u:x' "
                          "to='carol@a.test'/></presence>"
                          "<message to=\"carol\\40b.test@" FRONT "\" from='alpha@" H1
                          "'><body>hi</body></message>"
                          "<presence from='alpha@" H1 "' to='" FRONT "'/>"
                          "<iq to='a.test' id='1' type='get'/>"
                          "<iq to='w\\40a.test@" FRONT "/r' type='result' id='2'/>"
                          "<presence to='beta@" H1 "'/>\n");
    free(got);
    homeside_free(&hs);
    testout_deinit(&sink);
}
END_TEST

static enum homeside_verdict inbound(struct homeside *hs, const char *xml, char **from_r)
{
    struct xml_node *st = test_parse_stanza(xml), *copy = NULL;
    struct stanza_in in;
    enum homeside_verdict v;
    stanza_in_parse(&in, st, 0);
    v = homeside_inbound(hs, &in, &copy);
    *from_r = copy ? xstrdup(xml_attr(copy, "from")) : NULL;
    xml_free(copy);
    stanza_in_deinit(&in);
    xml_free(st);
    return v;
}

START_TEST(test_home_reads_the_front)
{
    struct testout sink;
    struct homeside *hs;
    char *from, *out;
    testout_init(&sink);
    hs = homeside_new(H1, FRONT, &sink.path);
    /* A user's relay address at the front: read as the user. */
    ck_assert_int_eq(inbound(hs,
                             "<message from='bob\\40a.test@" FRONT "/phone' to='alpha@" H1
                             "'><body>x</body></message>",
                             &from),
                     HOMESIDE_REWRITTEN);
    ck_assert_str_eq(from, "bob@a.test/phone");
    free(from);
    /* The front itself, and its status service's vouched words. */
    ck_assert_int_eq(
        inbound(hs, "<presence from='" FRONT "' to='alpha@" H1 "' type='subscribe'/>", &from),
        HOMESIDE_AS_IS);
    ck_assert_int_eq(inbound(hs,
                             "<presence from='bob\\40a.test@" FRONT "' to='desk@" H1
                             "' type='subscribe'><vouch xmlns='urn:chanstat:federation:0'/>"
                             "</presence>",
                             &from),
                     HOMESIDE_AS_IS);
    /* A channel-like address at the front names no user: dropped. */
    ck_assert_int_eq(inbound(hs, "<message from='alpha@" FRONT "' to='alpha@" H1 "'/>", &from),
                     HOMESIDE_REFUSED);
    /* A server's iq is answered as usual. */
    ck_assert_int_eq(inbound(hs,
                             "<iq from='a.test' to='" H1 "' type='get' id='d'>"
                             "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
                             &from),
                     HOMESIDE_AS_IS);
    ck_assert_uint_eq(sink.writes, 0);
    /* Anybody else: a message or iq gets forbidden, presence nothing. */
    ck_assert_int_eq(inbound(hs,
                             "<message id='m1' from='eve@a.test/x' to='alpha@" H1
                             "'><body>hi</body></message>",
                             &from),
                     HOMESIDE_REFUSED);
    ck_assert_int_eq(
        inbound(hs, "<presence from='eve@a.test/x' to='alpha@" H1 "' type='subscribe'/>", &from),
        HOMESIDE_REFUSED);
    ck_assert_int_eq(inbound(hs,
                             "<presence from='status.x.test' to='alpha@" H1
                             "' type='subscribe'><lease xmlns='urn:chanstat:federation:0'/>"
                             "</presence>",
                             &from),
                     HOMESIDE_REFUSED);
    ck_assert_int_eq(
        inbound(hs, "<message type='error' from='eve@a.test/x' to='alpha@" H1 "'/>", &from),
        HOMESIDE_REFUSED);
    out = testout_take(&sink);
    ck_assert_ptr_nonnull(strstr(out, "<forbidden"));
    ck_assert_ptr_nonnull(strstr(out, "id='m1'"));
    ck_assert_ptr_nonnull(strstr(out, "to='eve@a.test/x'"));
    ck_assert_uint_eq(sink.writes, 1);
    free(out);
    homeside_free(&hs);
    testout_deinit(&sink);
}
END_TEST

/* ---- Three nodes and a router ---- */

struct side {
    char dir[64];
    const char *domain;
    struct config cfg;
    struct store *store;
    struct node *node;
    struct testout out;
    bool cut; /* its component is disconnected: the server bounces */
};

static struct side F, S1, S2;
static struct side *const sides[] = {&F, &S1, &S2};
static struct strbuf users; /* what reached users, one stanza per line */
static int64_t now_ms = 1000000;
static unsigned to_h1_subscribes;
static struct strbuf to_homes; /* what the front passed to the homes */

static void side_up(struct side *s, const char *domain, int role, const char *sql)
{
    char err[256], path[128];
    snprintf(s->dir, sizeof(s->dir), "/tmp/check_cluster.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s->dir));
    snprintf(path, sizeof(path), "%s/db", s->dir);
    config_defaults(&s->cfg);
    s->domain = domain;
    s->cfg.domain = xstrdup(domain);
    s->cfg.cluster_role = role;
    s->cfg.multicast = false;
    s->cfg.cluster_home_check_ms = 2000;
    s->cfg.fed_retry_ms = 5000;
    if (role == CLUSTER_FRONT) {
        s->cfg.cluster_homes.v = xcalloc(2, sizeof(char *));
        s->cfg.cluster_homes.v[0] = xstrdup(H1);
        s->cfg.cluster_homes.v[1] = xstrdup(H2);
        s->cfg.cluster_homes.n = 2;
    } else if (role == CLUSTER_HOME) {
        s->cfg.cluster_front.v = xcalloc(1, sizeof(char *));
        s->cfg.cluster_front.v[0] = xstrdup(FRONT);
        s->cfg.cluster_front.n = 1;
    }
    ck_assert_int_eq(store_open(path, &s->cfg, &s->store, err, sizeof(err)), 0);
    if (sql)
        ck_assert_int_eq(sqlite3_exec(store_handle(s->store), sql, NULL, NULL, NULL), SQLITE_OK);
    testout_init(&s->out);
    s->cut = false;
    s->node = node_new(&s->cfg, s->store, &s->out.path, now_ms, err, sizeof(err));
    ck_assert_msg(s->node != NULL, "%s", err);
}

static void side_down(struct side *s)
{
    node_free(&s->node);
    store_close(&s->store);
    config_deinit(&s->cfg);
    testout_deinit(&s->out);
    remove_dir(s->dir);
}

/* The next whole stanza of a write (several may share one), or NULL. */
static char *next_stanza(const char **pp)
{
    const char *p = *pp, *start;
    int depth = 0;
    while (*p == '\n')
        p++;
    if (*p == '\0')
        return NULL;
    start = p;
    do {
        const char *gt = strchr(p, '>');
        ck_assert_ptr_nonnull(gt);
        if (p[1] == '/')
            depth--;
        else if (gt[-1] != '/')
            depth++;
        p = gt + 1;
        while (*p && *p != '<')
            p++;
    } while (depth > 0);
    *pp = p;
    return xstrndup(start, (size_t)(p - start));
}

static struct side *side_at(const char *to)
{
    const char *at_sign = to ? strchr(to, '@') : NULL;
    const char *d = at_sign ? at_sign + 1 : to;
    for (size_t i = 0; d && i < 3; i++) {
        size_t n = strlen(sides[i]->domain);
        if (strncmp(d, sides[i]->domain, n) == 0 && (d[n] == '\0' || d[n] == '/'))
            return sides[i];
    }
    return NULL;
}

static void deliver(struct side *s, const struct xml_node *st)
{
    node_stanza(s->node, st, now_ms);
    node_batch_end(s->node, now_ms);
}

/* A server's bounce of st to a component that is not connected. */
static void bounce(const struct xml_node *st)
{
    const char *type = xml_attr(st, "type");
    struct xml_node *e;
    struct side *back;
    if (type && (strcmp(type, "error") == 0 || strcmp(type, "result") == 0))
        return;
    back = side_at(xml_attr(st, "from"));
    if (back == NULL)
        return;
    e = xml_copy(st);
    xml_set_attr(e, "from", xml_attr(st, "to"));
    xml_set_attr(e, "to", xml_attr(st, "from"));
    xml_set_attr(e, "type", "error");
    xml_add_child(xml_add_child(e, "error", NULL), "service-unavailable", XML_NS_STANZAS);
    xml_set_attr(xml_child(e, "error", NULL), "type", "cancel");
    xml_set_attr(xml_child(e, "error", NULL), "by", xml_attr(st, "to"));
    deliver(back, e);
    xml_free(e);
}

/* Moves stanzas between the nodes until all are quiet. */
static void route(void)
{
    for (int round = 0; round < 200; round++) {
        bool moved = false;
        for (size_t i = 0; i < 3; i++) {
            char *out = testout_take(&sides[i]->out), *one;
            const char *p = out;
            while ((one = next_stanza(&p)) != NULL) {
                struct xml_node *st = xml_parse_one(one, strlen(one));
                struct side *to;
                ck_assert_msg(st != NULL, "ill-formed: %s", one);
                to = side_at(xml_attr(st, "to"));
                if (to == &S1 && strstr(one, "type='subscribe'") && strstr(one, "<lease"))
                    to_h1_subscribes++;
                if (sides[i] == &F && (to == &S1 || to == &S2)) {
                    strbuf_append_str(&to_homes, one);
                    strbuf_append(&to_homes, "\n", 1);
                }
                if (to && to->cut) {
                    bounce(st);
                    moved = true;
                } else if (to) {
                    deliver(to, st);
                    moved = true;
                } else {
                    strbuf_append_str(&users, one);
                    strbuf_append(&users, "\n", 1);
                }
                xml_free(st);
                free(one);
            }
            free(out);
        }
        if (!moved)
            return;
    }
    ck_abort_msg("the nodes never went quiet");
}

static void user(const char *xml)
{
    struct xml_node *st = test_parse_stanza(xml);
    deliver(&F, st);
    xml_free(st);
    route();
}

static void tick(int64_t ms)
{
    now_ms += ms;
    for (size_t i = 0; i < 3; i++)
        if (!sides[i]->cut)
            node_tick(sides[i]->node, now_ms);
    route();
}

/* Lines that reached users holding both a and b (b may be NULL). */
static unsigned seen(const char *a, const char *b)
{
    unsigned n = 0;
    const char *p = users.data ? users.data : "";
    while (*p) {
        const char *nl = strchr(p, '\n');
        char *line = xstrndup(p, nl ? (size_t)(nl - p) : strlen(p));
        n += strstr(line, a) && (b == NULL || strstr(line, b));
        free(line);
        p = nl ? nl + 1 : p + strlen(p);
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

static void cluster_setup(void)
{
    side_up(&F, FRONT, CLUSTER_FRONT,
            "INSERT INTO placement VALUES ('alpha', '" H1 "'), ('desk', '" H1 "'),"
            " ('beta', '" H2 "'); DELETE FROM placement_log");
    side_up(&S1, H1, CLUSTER_HOME,
            "INSERT INTO channel (name, owner, policy) VALUES ('alpha', 'alice@a.test', 'open'),"
            " ('desk', 'alice@a.test', 'approve');"
            "INSERT INTO roster (channel, jid, subscription) VALUES ('alpha', 'alice@a.test', "
            "'to'), ('desk', 'alice@a.test', 'to')");
    side_up(&S2, H2, CLUSTER_HOME,
            "INSERT INTO channel (name, owner, policy) VALUES ('beta', 'bob@a.test', 'open');"
            "INSERT INTO roster (channel, jid, subscription) VALUES ('beta', 'bob@a.test', 'to')");
    users.len = 0;
    strbuf_append(&users, "", 0);
    to_homes.len = 0;
    strbuf_append(&to_homes, "", 0);
    to_h1_subscribes = 0;
    for (size_t i = 0; i < 3; i++)
        node_online(sides[i]->node, now_ms);
    route();
    /* The owners are online. */
    user("<presence from='alice@a.test/desk' to='alpha@" FRONT "'><show>chat</show></presence>");
    user("<presence from='alice@a.test/desk' to='desk@" FRONT "'><show>chat</show></presence>");
    user("<presence from='bob@a.test/desk' to='beta@" FRONT "'><show>away</show></presence>");
    tick(1000);
}

static void cluster_teardown(void)
{
    for (size_t i = 0; i < 3; i++)
        side_down(sides[i]);
    strbuf_free(&users);
    strbuf_free(&to_homes);
}

static void no_home_named(void)
{
    ck_assert_msg(strstr(users.data, H1) == NULL && strstr(users.data, H2) == NULL,
                  "a home's domain reached a user:\n%s", users.data);
}

START_TEST(test_one_upstream_per_channel)
{
    user("<presence from='carol@a.test/pc' to='alpha@" FRONT "' type='subscribe'/>");
    user("<presence from='dave@a.test/pc' to='alpha@" FRONT "' type='subscribe'/>");
    user("<presence from='erin@b.test/pc' to='alpha@" FRONT "' type='subscribe'/>");
    ck_assert_uint_eq(to_h1_subscribes, 1);
    ck_assert_uint_eq(seen("to='carol@a.test'", "type='subscribed'"), 1);
    ck_assert_uint_eq(seen("to='erin@b.test'", "type='subscribed'"), 1);
    ck_assert_uint_eq(seen("to='dave@a.test'", "<show>chat</show>"), 1);
    ck_assert_int_eq(count(&S1, "SELECT count(*) FROM roster WHERE channel = 'alpha'"
                                " AND jid <> 'alice@a.test'"),
                     1);
    ck_assert_int_eq(count(&S1, "SELECT count(*) FROM roster WHERE jid = '" FRONT "'"), 1);
    ck_assert_int_eq(count(&F, "SELECT count(*) FROM remote_watcher WHERE remote = 'alpha@" FRONT
                               "' AND state = 'watching'"),
                     3);
    /* A status change: every watcher, from the channel's address. */
    user("<presence from='alice@a.test/desk' to='alpha@" FRONT "'><show>dnd</show></presence>");
    ck_assert_uint_eq(seen("from='alpha@" FRONT "'", "<show>dnd</show>"), 3);
    no_home_named();
}
END_TEST

START_TEST(test_messages_find_their_way_back)
{
    user("<message id='m1' type='chat' from='carol@a.test/pc' to='alpha@" FRONT
         "'><body>hi</body></message>");
    ck_assert_uint_eq(seen("to='alice@a.test/desk'", "from='carol\\40a.test@" FRONT "'"), 1);
    user("<message id='r1' type='chat' from='alice@a.test/desk' to='carol\\40a.test@" FRONT
         "'><body>hello</body></message>");
    ck_assert_uint_eq(seen("to='carol@a.test", "from='alpha@" FRONT "'"), 1);
    /* Routes are written once a tick, not per message. */
    ck_assert_int_eq(count(&F, "SELECT count(*) FROM relay_route"), 0);
    tick(1000);
    ck_assert_int_eq(count(&F, "SELECT count(*) FROM relay_route WHERE jid = 'alice@a.test'"
                               " AND address = 'carol\\40a.test' AND home = '" H1 "'"),
                     1);
    /* A relay address no home wrote from goes to no home: the front's
     * own routing asks whether it names a remote channel, and without
     * an answer the sender gets an error. */
    user("<message id='r2' type='chat' from='alice@a.test/desk' to='zed\\40a.test@" FRONT
         "'><body>?</body></message>");
    ck_assert_ptr_null(strstr(to_homes.data, "id='r2'"));
    ck_assert_ptr_nonnull(strstr(to_homes.data, "id='r1'"));
    tick(31000);
    ck_assert_uint_eq(seen("id='r2'", "type='error'"), 1);
    no_home_named();
}
END_TEST

START_TEST(test_users_cannot_vouch)
{
    /* A user's own <vouch/> is the front's word only: it is dropped on
     * the way, and the home asks the owner as for anybody. */
    user("<presence from='mallory@a.test/x' to='desk@" FRONT "' type='subscribed'>"
         "<vouch xmlns='urn:chanstat:federation:0'/></presence>");
    user("<message from='mallory@a.test/x' to='desk@" FRONT "'><body>x</body>"
         "<vouch xmlns='urn:chanstat:federation:0'/></message>");
    ck_assert_ptr_nonnull(strstr(to_homes.data, "from='mallory\\40a.test@" FRONT "/x'"));
    ck_assert_ptr_null(strstr(to_homes.data, "vouch"));
    ck_assert_int_eq(count(&S1, "SELECT count(*) FROM roster WHERE jid = 'mallory@a.test'"
                                " AND subscription IN ('from', 'both')"),
                     0);
    ck_assert_uint_eq(seen("to='alice@a.test", "vouch"), 0);
}
END_TEST

START_TEST(test_home_down_and_back)
{
    user("<presence from='carol@a.test/pc' to='alpha@" FRONT "' type='subscribe'/>");
    user("<presence from='carol@a.test/pc' to='beta@" FRONT "' type='subscribe'/>");
    users.len = 0;
    users.data[0] = '\0';
    S1.cut = true;
    tick(1000);
    tick(1000);
    ck_assert_uint_eq(seen("from='alpha@" FRONT "'", "type='unavailable'"), 1);
    ck_assert_uint_eq(seen("from='beta@" FRONT "'", "unavailable"), 0);
    user("<message id='m9' type='chat' from='carol@a.test/pc' to='alpha@" FRONT
         "'><body>hi</body></message>");
    ck_assert_uint_eq(seen("id='m9'", "recipient-unavailable"), 1);
    ck_assert_uint_eq(seen("id='m9'", "from='alpha@" FRONT "'"), 1);
    user("<message id='m10' type='chat' from='carol@a.test/pc' to='beta@" FRONT
         "'><body>hi</body></message>");
    ck_assert_uint_eq(seen("id='m10'", "to='bob@a.test/desk'"), 1);
    /* Back: the next ping is answered and the channel subscribed again. */
    S1.cut = false;
    users.len = 0;
    users.data[0] = '\0';
    tick(1000);
    tick(1000);
    ck_assert_uint_eq(seen("from='alpha@" FRONT "'", "<show>chat</show>"), 1);
    no_home_named();
}
END_TEST

START_TEST(test_front_started_before_a_home_converges)
{
    /* The front comes up while h1 is not connected: its subscription is
     * bounced, h1 counts as down, and the first answered ping (within
     * home_check, not on_error_retry_time) subscribes again. */
    user("<presence from='carol@a.test/pc' to='alpha@" FRONT "' type='subscribe'/>");
    tick(3000); /* past the homes' resync after their own link came up */
    S1.cut = true;
    node_offline(F.node, now_ms);
    node_online(F.node, now_ms);
    route();
    users.len = 0;
    users.data[0] = '\0';
    S1.cut = false;
    tick(1000);
    tick(1000);
    ck_assert_uint_eq(seen("to='carol@a.test'", "<show>chat</show>"), 1);
}
END_TEST

START_TEST(test_bounces_name_no_home)
{
    /* Before a ping noticed: the server's bounce, passed on without its
     * 'by' and from the channel's public address. */
    S1.cut = true;
    user("<message id='b1' type='chat' from='carol@a.test/pc' to='alpha@" FRONT
         "'><body>hi</body></message>");
    ck_assert_uint_eq(seen("id='b1'", "type='error'"), 1);
    ck_assert_uint_eq(seen("id='b1'", "from='alpha@" FRONT "'"), 1);
    no_home_named();
}
END_TEST

START_TEST(test_placement_edit_moves_the_upstream)
{
    sqlite3 *other;
    char path[128];
    user("<presence from='carol@a.test/pc' to='alpha@" FRONT "' type='subscribe'/>");
    snprintf(path, sizeof(path), "%s/db", F.dir);
    ck_assert_int_eq(sqlite3_open(path, &other), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(other,
                                  "UPDATE placement SET home = '" H2 "' WHERE channel = 'alpha'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(other);
    tick(1000);
    /* Cancelled at h1, asked at h2 (which has no alpha: retried). */
    ck_assert_int_eq(count(&S1, "SELECT count(*) FROM node_lease WHERE channel = 'alpha'"), 0);
    ck_assert_int_eq(count(&F, "SELECT count(*) FROM placement_log"), 0);
    ck_assert_int_eq(
        count(&F, "SELECT count(*) FROM remote_watcher WHERE remote = 'alpha@" FRONT "'"), 1);
}
END_TEST

Suite *cluster_suite(void);
Suite *cluster_suite(void)
{
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("placement");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_adding_a_home_moves_only_its_share);
    tcase_add_test(tc, test_removing_a_home_moves_only_its_channels);
    tcase_add_test(tc, test_even_and_order_free);
    tcase_add_test(tc, test_rows_win_over_hashing);
    suite_add_tcase(s, tc);
    tc = tcase_create("homeside");
    tcase_add_test(tc, test_home_output_goes_through_the_front);
    tcase_add_test(tc, test_home_reads_the_front);
    suite_add_tcase(s, tc);
    tc = tcase_create("nodes");
    tcase_add_checked_fixture(tc, cluster_setup, cluster_teardown);
    tcase_add_test(tc, test_one_upstream_per_channel);
    tcase_add_test(tc, test_messages_find_their_way_back);
    tcase_add_test(tc, test_users_cannot_vouch);
    tcase_add_test(tc, test_home_down_and_back);
    tcase_add_test(tc, test_front_started_before_a_home_converges);
    tcase_add_test(tc, test_bounces_name_no_home);
    tcase_add_test(tc, test_placement_edit_moves_the_upstream);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    log_init(LOG_LEVEL_ERROR, false, "check_cluster");
    return test_run_suite(cluster_suite());
}
