/* bench_fanout.c - presence fan-out throughput of chanstatd.
 *
 * Plays the XMPP server (bench/benchlib.c): one channel with N watchers
 * (rows written straight into a fresh database, owner already bound), then
 * R owner status changes, each answered by N deliveries that are all read
 * before the next change.  Prints deliveries per second of wall time,
 * chanstatd's CPU per delivery (from /proc), deliveries per CPU-second
 * and chanstatd's resident memory.
 *
 * A fourth argument sets [limits] send_buffer_bytes (default: chanstatd's;
 * "-" keeps it).  A fifth, LIMIT > 0, makes the fake server offer XEP-0033
 * with that limit: the watchers' domain is the users' domain, deliveries
 * go in batches (internals-fanout.md) and each address counts as one.
 *
 *   bench_fanout CHANSTATD [WATCHERS [ROUNDS [SEND_BUFFER_BYTES [LIMIT]]]]  (10000 200) */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchlib.h"

int main(int argc, char **argv)
{
    const char *chanstatd = argc > 1 ? argv[1] : "src/chanstatd";
    long watchers = argc > 2 ? atol(argv[2]) : 10000;
    long rounds = argc > 3 ? atol(argv[3]) : 200;
    bool buffer = argc > 4 && strcmp(argv[4], "-") != 0;
    long limit = argc > 5 ? atol(argv[5]) : 0;
    /* One delivery: a stanza of its own, or an address in a batch. */
    const char *delivery = limit > 0 ? " jid='w" : "<presence id='fo";
    struct bench b;
    char q[512], ini[256];
    sqlite3 *db;

    snprintf(ini, sizeof(ini), "[storage]\nsynchronous = normal\n%s%s%s[fanout]\n%s\n",
             buffer ? "[limits]\nsend_buffer_bytes = " : "", buffer ? argv[4] : "",
             buffer ? "\n" : "", limit > 0 ? "multicast_domain = b.bench" : "multicast = off");
    bench_init(&b, chanstatd, ini);
    db = bench_db(&b);
    bench_sql(db, "BEGIN");
    bench_sql(db, "INSERT INTO channel (name, owner) VALUES ('ch', 'owner@a.bench')");
    bench_sql(
        db, "INSERT INTO roster (channel, jid, subscription) VALUES ('ch', 'owner@a.bench', 'to')");
    for (long i = 0; i < watchers; i++) {
        snprintf(q, sizeof(q),
                 "INSERT INTO roster (channel, jid, subscription) VALUES ('ch', 'w%ld@b.bench', "
                 "'from')",
                 i);
        bench_sql(db, q);
    }
    bench_sql(db, "COMMIT");
    sqlite3_close(db);

    bench_start(&b, chanstatd);
    double online = bench_now();
    if (limit > 0) {
        /* The first thing asked after the handshake: disco#info of b.bench. */
        int n = snprintf(q, sizeof(q),
                         "<iq type='result' id='mc-1' from='b.bench' to='status.bench'><query "
                         "xmlns='http://jabber.org/protocol/disco#info'><feature "
                         "var='http://jabber.org/protocol/address'/><x xmlns='jabber:x:data' "
                         "type='result'><field var='FORM_TYPE' type='hidden'><value>"
                         "http://jabber.org/protocol/address</value></field><field "
                         "var='presence'><value>%ld</value></field></x></query></iq>",
                         limit);
        bench_read_until(&b, "id='mc-1'");
        bench_send(&b, q, (size_t)n);
    }
    bench_read_until(&b, "type='probe'"); /* the home probes its bound owner */
    /* Channels load on first use: the owner's presence loads this one and
     * is fanned out (read here).  The resync NODE_RESYNC_DELAY_MS after
     * the handshake skips it (its watchers were told since); waiting past
     * it keeps the rounds below all that is measured. */
    static const char avail[] = "<presence from='owner@a.bench/r' to='ch@status.bench'/>";
    bench_send(&b, avail, sizeof(avail) - 1);
    bench_count(&b, delivery, watchers);
    while (bench_now() - online < 2.5)
        usleep(10000);

    double cpu0 = bench_cpu(&b), t0 = bench_now();
    long total = 0;
    for (long r = 0; r < rounds; r++) {
        char p[256];
        int n = snprintf(p, sizeof(p),
                         "<presence from='owner@a.bench/r' to='ch@status.bench'><show>%s</show>"
                         "<status>round %ld</status></presence>",
                         r % 2 ? "away" : "dnd", r);
        bench_send(&b, p, (size_t)n);
        total += bench_count(&b, delivery, watchers);
    }
    double wall = bench_now() - t0, cpu = bench_cpu(&b) - cpu0;

    printf("fan-out: %ld watchers x %ld changes = %ld deliveries (%s)\n", watchers, rounds, total,
           limit > 0 ? "XEP-0033 batches" : "one stanza each");
    printf("wall %.3f s: %.0f deliveries/s\n", wall, (double)total / wall);
    printf("chanstatd CPU %.3f s: %.3f us/delivery, %.0f deliveries per CPU-second\n", cpu,
           cpu * 1e6 / (double)total, (double)total / cpu);
    printf("chanstatd RSS %ld KiB with %ld watchers\n", bench_rss_kib(&b), watchers);
    bench_finish(&b);
    return 0;
}
