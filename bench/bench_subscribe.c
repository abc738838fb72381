/* bench_subscribe.c - subscription costs of chanstatd as the data grows.
 *
 * Plays the XMPP server (bench/benchlib.c), with durable commits
 * (synchronous = full, the default), in two runs of chanstatd:
 *
 *  1. One open-policy channel, owner bound and available.  N distinct
 *     watchers send 'subscribe', W in flight; each is answered with
 *     'subscribed' (and the channel's status).  The rate is printed for
 *     every slice of 10,000 watchers: the last slice should cost what the
 *     first did.  Then M messages from a stranger to a relay address
 *     (answered 'forbidden') with this one channel in the database.
 *  2. A database of 20,000 channels whose owners are bound, plus two
 *     approve-policy channels: 'small' (the owner's row only) and 'big'
 *     (50,000 roster rows, P of them pending requests).  After the
 *     20,002 owner probes and one request to each (which loads it):
 *     K requests to 'small', then K to 'big', each relayed to the owner
 *     as a 'subscribe' from the relay address and left pending (the
 *     pending cap is raised so that none is refused), printed in up to
 *     four slices of at least W with the pending count before each; then
 *     the stranger's M messages again.
 *
 * Costs are wall time with W in flight, and chanstatd's CPU time from
 * /proc (10 ms ticks).  RSS is chanstatd's resident memory.
 *
 *   bench_subscribe CHANSTATD [N [W [K [P [M]]]]]
 *       defaults 100000 500 2000 10000 20000 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchlib.h"

#define SLICE 10000
#define BIG_ROWS 50000
#define OTHER_CHANNELS 20000

static long count_sql(struct bench *b, const char *sql)
{
    sqlite3 *db = bench_db(b);
    sqlite3_stmt *st;
    long n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Progress lines: one per size answers, labelled "label FIRST-LAST";
 * when pending >= 0, with the channel's pending requests before the
 * slice (pending before the first stanza plus one per stanza before). */
struct slices {
    long size;
    const char *label;
    long pending;
};

/* One stanza per call of make(buf, len, i, ud); i runs from first to
 * first + n - 1, at most window unanswered; an answer is one occurrence
 * of pat.  Prints a line per slice when sl is not NULL.  Returns the
 * wall seconds; *cpu_r chanstatd's CPU seconds. */
typedef int make_fn(char *buf, size_t len, long i, const void *ud);
static double pipeline(struct bench *b, make_fn *make, const void *ud, long first, long n,
                       long window, const char *pat, const struct slices *sl, double *cpu_r)
{
    static char batch[1 << 20];
    long slice = sl ? sl->size : 0;
    double cpu0 = bench_cpu(b), t0 = bench_now();
    double ts = t0, cs = cpu0;
    long sent = 0, got = 0;

    while (got < n) {
        size_t len = 0;
        long want;
        while (sent < n && sent - got < window && len + 512 < sizeof(batch)) {
            len += (size_t)make(batch + len, sizeof(batch) - len, first + sent, ud);
            sent++;
        }
        if (len)
            bench_send(b, batch, len);
        want = sent - got > window / 2 ? window / 2 : sent - got;
        if (want < 1)
            want = 1;
        if (slice > 0 && want > slice - got % slice)
            want = slice - got % slice;
        got += bench_count(b, pat, want);
        if (slice > 0 && (got % slice == 0 || got == n)) {
            double t = bench_now(), c = bench_cpu(b);
            long k = got % slice ? got % slice : slice;
            printf("  %s %6ld-%6ld: %6.0f/s (%6.1f us each), chanstatd CPU %6.1f us each, RSS "
                   "%ld KiB",
                   sl->label, got - k + 1, got, (double)k / (t - ts), (t - ts) * 1e6 / (double)k,
                   (c - cs) * 1e6 / (double)k, bench_rss_kib(b));
            if (sl->pending >= 0)
                printf(", %ld pending before", sl->pending + got - k);
            printf("\n");
            fflush(stdout);
            ts = t;
            cs = c;
        }
    }
    *cpu_r = bench_cpu(b) - cpu0;
    return bench_now() - t0;
}

static int make_subscribe(char *buf, size_t len, long i, const void *ud)
{
    return snprintf(buf, len,
                    "<presence from='w%ld@b.bench' to='ch@status.bench' type='subscribe'/>", i);
}

static int make_request(char *buf, size_t len, long i, const void *ud)
{
    return snprintf(buf, len,
                    "<presence from='r%ld@c.bench' to='%s@status.bench' type='subscribe'/>", i,
                    (const char *)ud);
}

static int make_stranger(char *buf, size_t len, long i, const void *ud)
{
    return snprintf(buf, len,
                    "<message from='stranger@d.bench/r' to='x\\40b.bench@status.bench' "
                    "type='chat' id='s%ld'><body>hello %ld</body></message>",
                    i, i);
}

/* Waits until the resync NODE_RESYNC_DELAY_MS after the handshake is past,
 * so that it does not fall into a measurement. */
static void after_resync(double online)
{
    while (bench_now() - online < 2.5)
        usleep(10000);
}

static void stranger(struct bench *b, long m, long window, const char *what)
{
    double cpu, wall = pipeline(b, make_stranger, NULL, 0, m, window, "<forbidden", NULL, &cpu);
    printf("stranger to a relay address, %s: %ld messages answered 'forbidden': %.1f us each "
           "(%.0f/s), chanstatd CPU %.2f us/message\n",
           what, m, wall * 1e6 / (double)m, (double)m / wall, cpu * 1e6 / (double)m);
}

static void open_channel(const char *chanstatd, long n, long window, long m)
{
    struct bench b;
    sqlite3 *db;
    double cpu, wall, online;
    long rss0, rss1;

    bench_init(&b, chanstatd, NULL);
    db = bench_db(&b);
    bench_sql(db, "INSERT INTO channel (name, owner) VALUES ('ch', 'owner@a.bench')");
    bench_sql(
        db, "INSERT INTO roster (channel, jid, subscription) VALUES ('ch', 'owner@a.bench', 'to')");
    sqlite3_close(db);

    bench_start(&b, chanstatd);
    online = bench_now();
    bench_read_until(&b, "type='probe'");
    static const char avail[] = "<presence from='owner@a.bench/r' to='ch@status.bench'/>";
    bench_send(&b, avail, sizeof(avail) - 1);
    after_resync(online);
    rss0 = bench_rss_kib(&b);

    printf("open channel: %ld distinct watchers subscribe, %ld in flight, synchronous=full\n", n,
           window);
    struct slices sl = {SLICE, "watchers", -1};
    wall = pipeline(&b, make_subscribe, NULL, 0, n, window, "type='subscribed'", &sl, &cpu);
    rss1 = bench_rss_kib(&b);
    printf("all %ld: %.0f subscribes/s (wall %.3f s), chanstatd CPU %.1f us/subscribe\n", n,
           (double)n / wall, wall, cpu * 1e6 / (double)n);
    printf("chanstatd RSS %ld KiB before, %ld KiB after: %.0f bytes per watcher\n", rss0, rss1,
           (double)(rss1 - rss0) * 1024.0 / (double)n);
    printf("watcher rows in the database: %ld\n",
           count_sql(&b, "SELECT count(*) FROM roster WHERE channel = 'ch' AND subscription "
                         "IN ('from', 'both')"));
    stranger(&b, m, window, "1 channel");
    bench_finish(&b);
}

static void warm_up(struct bench *b, const char *channel, const char *pat)
{
    char p[256];
    double t = bench_now();
    int n =
        snprintf(p, sizeof(p),
                 "<presence from='first@f.bench' to='%s@status.bench' type='subscribe'/>", channel);
    bench_send(b, p, (size_t)n);
    bench_count(b, pat, 1);
    printf("first request to '%s' (loads the channel): %.1f ms\n", channel,
           (bench_now() - t) * 1e3);
}

static void approve_channels(const char *chanstatd, long k, long pending, long window, long m)
{
    struct bench b;
    sqlite3 *db;
    double cpu, wall, online, t0;
    char ini[128];

    /* The pending cap (default 1000) would refuse requests beyond it. */
    snprintf(ini, sizeof(ini), "[limits]\nmax_pending_per_channel = %ld\n", pending + 2 * k + 1);
    bench_init(&b, chanstatd, ini);
    t0 = bench_now();
    db = bench_db(&b);
    bench_sql(db, "BEGIN");
    bench_sql(db, "INSERT INTO channel (name, owner, policy) VALUES "
                  "('small', 'o1@a.bench', 'approve'), ('big', 'o2@a.bench', 'approve')");
    bench_sql(db, "INSERT INTO roster (channel, jid, subscription) VALUES "
                  "('small', 'o1@a.bench', 'to'), ('big', 'o2@a.bench', 'to')");
    {
        char q[256];
        snprintf(q, sizeof(q),
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
                 "INSERT INTO roster (channel, jid, subscription, pending_in) "
                 "SELECT 'big', 'e' || i || '@c.bench', "
                 "CASE WHEN i <= %ld THEN 'none' ELSE 'from' END, i <= %ld FROM n",
                 BIG_ROWS - 1, pending, pending);
        bench_sql(db, q);
        snprintf(q, sizeof(q),
                 "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
                 "INSERT INTO channel (name, owner) SELECT printf('n%%05d', i), "
                 "printf('p%%05d@e.bench', i) FROM n",
                 OTHER_CHANNELS - 1);
        bench_sql(db, q);
        bench_sql(db, "INSERT INTO roster (channel, jid, subscription) SELECT name, owner, 'to' "
                      "FROM channel WHERE name GLOB 'n*'");
    }
    bench_sql(db, "COMMIT");
    sqlite3_close(db);
    printf("approve policy: 'big' has %ld roster rows (%ld pending), %d other channels; "
           "written in %.1f s\n",
           count_sql(&b, "SELECT count(*) FROM roster WHERE channel = 'big'"),
           count_sql(&b, "SELECT count(*) FROM roster WHERE channel = 'big' AND pending_in = 1"),
           OTHER_CHANNELS, bench_now() - t0);

    bench_start(&b, chanstatd);
    online = bench_now();
    bench_count(&b, "type='probe'", OTHER_CHANNELS + 2);
    printf("%d owner probes %.3f s after the handshake\n", OTHER_CHANNELS + 2,
           bench_now() - online);
    after_resync(online);

    /* Loading a channel (all its roster rows) is paid once, by the first
     * stanza to it: not part of the per-request cost. */
    warm_up(&b, "small", "to='o1@a.bench' type='subscribe'");
    warm_up(&b, "big", "to='o2@a.bench' type='subscribe'");
    /* Up to four slices, none shorter than the window: answers come in
     * bursts of one read's batch, and a shorter slice would time those. */
    long q = k / window < 1 ? 1 : k / window > 4 ? 4 : k / window;
    struct slices sl = {k / q, "requests", 1};
    wall = pipeline(&b, make_request, "small", 0, k, window, "to='o1@a.bench' type='subscribe'",
                    &sl, &cpu);
    printf("request to 'small' (1 row at the start): %ld relayed to the owner: %.1f us each "
           "(%.0f/s), chanstatd CPU %.1f us/request\n",
           k, wall * 1e6 / (double)k, (double)k / wall, cpu * 1e6 / (double)k);
    sl.pending = pending + 1;
    wall = pipeline(&b, make_request, "big", k, k, window, "to='o2@a.bench' type='subscribe'", &sl,
                    &cpu);
    printf("request to 'big' (%d rows, %ld pending at the start): %ld relayed to the owner: "
           "%.1f us each (%.0f/s), chanstatd CPU %.1f us/request\n",
           BIG_ROWS, pending, k, wall * 1e6 / (double)k, (double)k / wall, cpu * 1e6 / (double)k);
    printf("pending rows after: small %ld, big %ld; chanstatd RSS %ld KiB\n",
           count_sql(&b, "SELECT count(*) FROM roster WHERE channel = 'small' AND pending_in = 1"),
           count_sql(&b, "SELECT count(*) FROM roster WHERE channel = 'big' AND pending_in = 1"),
           bench_rss_kib(&b));
    stranger(&b, m, window, "20,002 channels");
    bench_finish(&b);
}

int main(int argc, char **argv)
{
    const char *chanstatd = argc > 1 ? argv[1] : "src/chanstatd";
    long n = argc > 2 ? atol(argv[2]) : 100000;
    long window = argc > 3 ? atol(argv[3]) : 500;
    long k = argc > 4 ? atol(argv[4]) : 2000;
    long pending = argc > 5 ? atol(argv[5]) : 10000;
    long m = argc > 6 ? atol(argv[6]) : 20000;

    if (n < 1 || window < 2 || k < 1 || pending < 0 || pending >= BIG_ROWS || m < 1) {
        fprintf(stderr,
                "usage: bench_subscribe CHANSTATD [N [W [K [P [M]]]]] "
                "(P below %d)\n",
                BIG_ROWS);
        return 2;
    }
    open_channel(chanstatd, n, window, m);
    approve_channels(chanstatd, k, pending, window, m);
    return 0;
}
