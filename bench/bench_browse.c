/* bench_browse.c - the channel directory (disco#items of the domain) as
 * the number of channels grows.
 *
 * Plays the XMPP server (bench/benchlib.c).  A database of C channels
 * (every tenth closed, so never listed), then chanstatd; R requests one
 * at a time, each a page of 100 items after a random listed channel
 * (XEP-0059 <after/>), checked to hold 100 items; then R requests with
 * <max>0</max> (the count alone).  Prints the round trip (p50, p99, max)
 * and chanstatd's CPU per request (from /proc, 10 ms ticks), and its RSS.
 * A page should cost the same with a million channels as with a
 * thousand: read in order from an index, the count from one row.
 *
 *   bench_browse CHANSTATD [C [R]]     defaults 1000000 2000 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"

#define PAGE 100
#define MAX_REQUESTS 100000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* R requests made by make(i, buf), each answered by one iq holding
 * `items` items; their round trips into rtt (sorted).  Returns chanstatd's
 * CPU seconds for all. */
static double run(struct bench *b, long r, long channels, int max, double *rtt)
{
    double cpu0 = bench_cpu(b);
    for (long i = 0; i < r; i++) {
        char req[512], id[32];
        /* a listed name: c%07d with a number not divisible by 10, leaving
         * a full page after it */
        long k = 1 + (long)(random() % (channels - 2 * PAGE));
        int n;
        if (k % 10 == 0)
            k++;
        snprintf(id, sizeof(id), "id='b%ld'", i);
        n = snprintf(req, sizeof(req),
                     "<iq type='get' id='b%ld' from='u@a.bench/r' to='status.bench'>"
                     "<query xmlns='http://jabber.org/protocol/disco#items'>"
                     "<set xmlns='http://jabber.org/protocol/rsm'><max>%d</max>"
                     "<after>c%07ld</after></set></query></iq>",
                     i, max, k);
        double t0 = bench_now();
        bench_send(b, req, (size_t)n);
        bench_read_until(b, id);
        if (max > 0)
            bench_count(b, "<item ", max);
        bench_read_until(b, "<count>");
        rtt[i] = bench_now() - t0;
    }
    qsort(rtt, (size_t)r, sizeof(*rtt), cmp_double);
    return bench_cpu(b) - cpu0;
}

static void report(const char *what, long r, const double *rtt, double cpu)
{
    printf("%s: %ld requests one at a time: round trip p50 %.1f us, p99 %.1f us, max %.1f us; "
           "chanstatd CPU %.1f us/request\n",
           what, r, rtt[r / 2] * 1e6, rtt[r * 99 / 100] * 1e6, rtt[r - 1] * 1e6, cpu * 1e6 / r);
}

int main(int argc, char **argv)
{
    struct bench b;
    sqlite3 *db;
    long channels = argc > 2 ? atol(argv[2]) : 1000000;
    long r = argc > 3 ? atol(argv[3]) : 2000;
    char sql[512];
    double t0, *rtt;

    if (argc < 2 || channels < 4 * PAGE || r < 1 || r > MAX_REQUESTS) {
        fprintf(stderr, "usage: bench_browse CHANSTATD [CHANNELS>=%d [REQUESTS<=%d]]\n", 4 * PAGE,
                MAX_REQUESTS);
        return 2;
    }
    rtt = calloc((size_t)r, sizeof(*rtt));
    if (rtt == NULL)
        return 1;
    srandom(1);
    bench_init(&b, argv[1], NULL);
    db = bench_db(&b);
    t0 = bench_now();
    bench_sql(db, "BEGIN");
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %ld)"
             " INSERT INTO channel (name, policy, display_name)"
             " SELECT printf('c%%07d', i), CASE WHEN i %% 10 = 0 THEN 'closed' ELSE 'open' END,"
             " 'Channel ' || i FROM n",
             channels - 1);
    bench_sql(db, sql);
    bench_sql(db, "COMMIT");
    sqlite3_close(db);
    printf("%ld channels (%ld listed) written in %.1f s\n", channels, channels - channels / 10,
           bench_now() - t0);

    bench_start(&b, argv[1]);
    report("page of 100 after a random channel", r, rtt, run(&b, r, channels, PAGE, rtt));
    report("count alone (max 0)", r, rtt, run(&b, r, channels, 0, rtt));
    printf("chanstatd RSS %ld KiB\n", bench_rss_kib(&b));
    bench_stop(&b);
    bench_finish(&b);
    free(rtt);
    return 0;
}
