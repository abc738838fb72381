/* fuzz_dispatch.c - stanzas into whole nodes: presence, routing,
 * federation, the iq handlers and the cluster roles, each node on its own
 * database (in /dev/shm when it exists) with a few channels, kept across
 * inputs as a running daemon keeps its state.
 *
 * The input's first byte picks the node (standalone status.a.test, the
 * front status.a.test or its home h1.status.a.test) and whether the clock
 * moves a tick afterwards; the rest is a component stream's content,
 * split into stanzas by the daemon's own parser and limits.  What the
 * nodes write is checked to be well-formed stanzas and dropped. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cs_config.h"
#include "cs_log.h"
#include "cs_node.h"
#include "cs_store.h"
#include "cs_xml.h"
#include "testout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct side {
    struct config cfg;
    struct store *store;
    struct node *node;
    struct testout out;
};

static struct side sides[3];
static int64_t now_ms = 1000000;

static const char *const channels =
    "INSERT INTO channel (name, owner, policy) VALUES ('alpha', 'alice@a.test', 'open'),"
    " ('desk', 'bob@a.test', 'approve'), ('vault', 'bob@a.test', 'closed'), ('nobody', NULL, "
    "'open');"
    "INSERT INTO roster (channel, jid, subscription) VALUES ('alpha', 'alice@a.test', 'to'),"
    " ('alpha', 'carol@a.test', 'from'), ('desk', 'status.a.test', 'from'),"
    " ('vault', 'dave@b.test', 'both');";

static void side_up(struct side *s, const char *domain, int role, const char *sql)
{
    char dir[64], path[96], err[256];
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof(dir), "%s/fuzz_dispatch.XXXXXX", base);
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(path, sizeof(path), "%s/db", dir);
    config_defaults(&s->cfg);
    s->cfg.domain = xstrdup(domain);
    s->cfg.cluster_role = role;
    s->cfg.synchronous = 1;
    if (role == CLUSTER_FRONT) {
        s->cfg.cluster_homes.v = xcalloc(2, sizeof(char *));
        s->cfg.cluster_homes.v[0] = xstrdup("h1.status.a.test");
        s->cfg.cluster_homes.v[1] = xstrdup("h2.status.a.test");
        s->cfg.cluster_homes.n = 2;
    } else if (role == CLUSTER_HOME) {
        s->cfg.cluster_front.v = xcalloc(1, sizeof(char *));
        s->cfg.cluster_front.v[0] = xstrdup("status.a.test");
        s->cfg.cluster_front.n = 1;
    }
    if (store_open(path, &s->cfg, &s->store, err, sizeof(err)) != 0)
        abort();
    if (sql && sqlite3_exec(store_handle(s->store), sql, NULL, NULL, NULL) != SQLITE_OK)
        abort();
    testout_init(&s->out);
    s->node = node_new(&s->cfg, s->store, &s->out.path, now_ms, err, sizeof(err));
    if (s->node == NULL)
        abort();
    node_online(s->node, now_ms);
}

static void setup(void)
{
    log_init(LOG_LEVEL_ERROR, false, "fuzz_dispatch");
    side_up(&sides[0], "status.a.test", CLUSTER_STANDALONE, channels);
    side_up(&sides[1], "status.a.test", CLUSTER_FRONT,
            "INSERT INTO placement VALUES ('desk', 'h2.status.a.test')");
    side_up(&sides[2], "h1.status.a.test", CLUSTER_HOME, channels);
}

/* What a node wrote: complete, well-formed stanzas. */
static void drain(struct side *s)
{
    char *out = testout_take(&s->out);
    struct xml_parser_handlers h = {0};
    struct xml_parser *p;
    static const char header[] = "<s xmlns='jabber:component:accept'>";
    p = xml_parser_new(1 << 22, 64, &h, NULL);
    if (xml_parser_feed(p, header, sizeof(header) - 1) != 0 ||
        xml_parser_feed(p, out, strlen(out)) != 0)
        abort();
    xml_parser_free(&p);
    free(out);
}

static struct side *target;

static void on_stanza(void *ud, struct xml_node *st)
{
    node_stanza(target->node, st, now_ms);
    node_batch_end(target->node, now_ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char header[] = "<stream:stream xmlns='jabber:component:accept' "
                                 "xmlns:stream='http://etherx.jabber.org/streams' id='f'>";
    struct xml_parser_handlers h = {NULL, on_stanza, NULL};
    struct xml_parser *p;
    if (sides[0].node == NULL)
        setup();
    if (size == 0)
        return 0;
    target = &sides[data[0] % 3];
    p = xml_parser_new(65536, 32, &h, NULL);
    if (xml_parser_feed(p, header, sizeof(header) - 1) == 0)
        xml_parser_feed(p, (const char *)data + 1, size - 1);
    xml_parser_free(&p);
    if (data[0] & 0x80) {
        now_ms += 1000;
        node_tick(target->node, now_ms);
    }
    while (node_wants_pump(target->node) && node_pump(target->node, now_ms))
        ;
    drain(target);
    return 0;
}
