/* bench_route.c - message routing and the offline store of chanstatd.
 *
 * Plays the XMPP server (bench/benchlib.c) with one channel whose owner is
 * bound, and measures:
 *  1. routing throughput: M messages from senders to the channel, sent in
 *     windows of W, each forwarded to the owner's resource;
 *  2. latency: P messages in strict ping-pong; the round trip through the
 *     loopback and chanstatd, p50 and p99;
 *  3. durable stores: the owner offline, S messages stored (synchronous =
 *     full: fsync per grouped commit), timed until the database holds all;
 *  4. flush: the owner comes back and the S messages are delivered.
 *
 *   bench_route CHANSTATD [MESSAGES [PINGPONG [STORES]]]   (100000 2000 20000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchlib.h"

#define WINDOW 256

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int message(char *buf, size_t len, long i)
{
    return snprintf(buf, len,
                    "<message from='s%ld@b.bench/r' to='ch@status.bench' type='chat' id='m%ld'>"
                    "<body>message number %ld</body></message>",
                    i % 1000, i, i);
}

static long stored_count(struct bench *b)
{
    sqlite3 *db = bench_db(b);
    sqlite3_stmt *st;
    long n = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM offline", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

int main(int argc, char **argv)
{
    const char *chanstatd = argc > 1 ? argv[1] : "src/chanstatd";
    long messages = argc > 2 ? atol(argv[2]) : 100000;
    long pingpong = argc > 3 ? atol(argv[3]) : 2000;
    long stores = argc > 4 ? atol(argv[4]) : 20000;
    char buf[512];
    struct bench b;
    sqlite3 *db;
    int n;

    bench_init(&b, chanstatd,
               "[offline]\nmax_messages = 1000000\nmax_bytes = 1073741824\n"
               "[storage]\nsynchronous = full\n");
    db = bench_db(&b);
    bench_sql(db, "INSERT INTO channel (name, owner) VALUES ('ch', 'owner@a.bench')");
    bench_sql(
        db, "INSERT INTO roster (channel, jid, subscription) VALUES ('ch', 'owner@a.bench', 'to')");
    sqlite3_close(db);
    bench_start(&b, chanstatd);
    bench_read_until(&b, "type='probe'");
    n = snprintf(buf, sizeof(buf), "<presence from='owner@a.bench/r' to='ch@status.bench'/>");
    bench_send(&b, buf, (size_t)n);

    /* 1. Throughput, W messages in flight. */
    double cpu0 = bench_cpu(&b), t0 = bench_now();
    long sent = 0, got = 0;
    while (got < messages) {
        struct {
            char data[WINDOW * 200];
            size_t len;
        } batch = {.len = 0};
        while (sent < messages && sent - got < WINDOW) {
            batch.len +=
                (size_t)message(batch.data + batch.len, sizeof(batch.data) - batch.len, sent);
            sent++;
        }
        if (batch.len)
            bench_send(&b, batch.data, batch.len);
        got += bench_count(&b, "to='owner@a.bench/r'",
                           sent - got > WINDOW / 2 ? WINDOW / 2 : sent - got);
    }
    double wall = bench_now() - t0, cpu = bench_cpu(&b) - cpu0;
    printf("routing: %ld messages, %d in flight: %.0f messages/s (wall %.3f s); chanstatd CPU "
           "%.2f us/message, %.0f messages per CPU-second\n",
           messages, WINDOW, (double)messages / wall, wall, cpu * 1e6 / (double)messages,
           (double)messages / cpu);

    /* 2. Latency, one at a time. */
    double *rtt = malloc((size_t)pingpong * sizeof(*rtt));
    for (long i = 0; i < pingpong; i++) {
        n = message(buf, sizeof(buf), messages + i);
        double t = bench_now();
        bench_send(&b, buf, (size_t)n);
        bench_count(&b, "to='owner@a.bench/r'", 1);
        rtt[i] = bench_now() - t;
    }
    qsort(rtt, (size_t)pingpong, sizeof(*rtt), cmp_double);
    printf("latency: %ld messages one at a time: round trip through chanstatd p50 %.1f us, p99 "
           "%.1f us\n",
           pingpong, rtt[pingpong / 2] * 1e6, rtt[pingpong * 99 / 100] * 1e6);
    free(rtt);

    /* 3. Durable stores: the owner leaves. */
    n = snprintf(buf, sizeof(buf),
                 "<presence from='owner@a.bench/r' to='ch@status.bench' type='unavailable'/>");
    bench_send(&b, buf, (size_t)n);
    usleep(100000);
    cpu0 = bench_cpu(&b);
    t0 = bench_now();
    for (long i = 0; i < stores; i += WINDOW) {
        char data[WINDOW * 200];
        size_t len = 0;
        for (long k = i; k < i + WINDOW && k < stores; k++)
            len += (size_t)message(data + len, sizeof(data) - len, k);
        bench_send(&b, data, len);
    }
    while (stored_count(&b) < stores)
        usleep(2000);
    wall = bench_now() - t0;
    cpu = bench_cpu(&b) - cpu0;
    printf("offline store: %ld messages committed (synchronous=full) in %.3f s: %.0f stores/s; "
           "chanstatd CPU %.2f us/store\n",
           stores, wall, (double)stores / wall, cpu * 1e6 / (double)stores);

    /* 4. Flush: the owner is back. */
    t0 = bench_now();
    n = snprintf(buf, sizeof(buf), "<presence from='owner@a.bench/r' to='ch@status.bench'/>");
    bench_send(&b, buf, (size_t)n);
    bench_count(&b, "urn:xmpp:delay", stores);
    wall = bench_now() - t0;
    printf("offline flush: %ld messages delivered with delay stamps in %.3f s: %.0f messages/s\n",
           stores, wall, (double)stores / wall);
    long left;
    for (int i = 0; i < 500 && (left = stored_count(&b)) > 0; i++)
        usleep(10000);
    printf("offline rows left after the flush drained: %ld\n", stored_count(&b));
    bench_finish(&b);
    return 0;
}
