/* bench_edits.c - live administration at scale: a bulk edit of the roster
 * made by another connection while chanstatd runs.
 *
 * Plays the XMPP server (bench/benchlib.c): one channel whose owner is
 * bound and available.  An admin connection then inserts N watcher rows
 * in ONE transaction (as sqlite3 or chanstatctl would); chanstatd sees
 * the commit (PRAGMA data_version), reads the change log and sends each
 * new watcher the channel's status.  Prints the time from the commit to
 * the last status received, rows per second, and the same for deleting
 * them again (each contact then gets unsubscribed and unavailable).
 *
 *   bench_edits CHANSTATD [ROWS]      (default 10000) */
#include <stdio.h>
#include <stdlib.h>

#include "benchlib.h"

int main(int argc, char **argv)
{
    static const char owner_on[] =
        "<presence from='owner@a.bench/r' to='ch@status.bench'><status>on</status></presence>";
    const char *chanstatd = argc > 1 ? argv[1] : "src/chanstatd";
    long rows = argc > 2 ? atol(argv[2]) : 10000;
    struct bench b;
    char q[512];
    sqlite3 *db;
    double t0, dt, cpu0, cpu;
    long got;

    bench_init(&b, chanstatd, "[storage]\nsynchronous = normal\n");
    db = bench_db(&b);
    sqlite3_busy_timeout(db, 10000); /* chanstatd writes too (stats, once a second) */
    bench_sql(db, "INSERT INTO channel (name, owner) VALUES ('ch', 'owner@a.bench')");
    bench_sql(
        db, "INSERT INTO roster (channel, jid, subscription) VALUES ('ch', 'owner@a.bench', 'to')");
    bench_start(&b, chanstatd);
    bench_read_until(&b, "type='probe'");
    bench_send(&b, owner_on, sizeof(owner_on) - 1);

    /* One transaction of `rows` new watchers. */
    snprintf(q, sizeof(q),
             "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %ld)"
             " INSERT INTO roster (channel, jid, subscription)"
             " SELECT 'ch', 'w' || i || '@b.bench', 'from' FROM n; COMMIT",
             rows);
    cpu0 = bench_cpu(&b);
    t0 = bench_now();
    bench_sql(db, q);
    got = bench_count(&b, "<status>on</status>", rows);
    dt = bench_now() - t0;
    cpu = bench_cpu(&b) - cpu0;
    printf("bulk insert: %ld watcher rows in one transaction -> %ld statuses sent in %.3f s "
           "(%.0f rows/s; chanstatd CPU %.3f s)\n",
           rows, got, dt, (double)rows / dt, cpu);

    cpu0 = bench_cpu(&b);
    t0 = bench_now();
    bench_sql(db, "DELETE FROM roster WHERE jid LIKE 'w%@b.bench'");
    got = bench_count(&b, "type='unavailable'", rows);
    dt = bench_now() - t0;
    cpu = bench_cpu(&b) - cpu0;
    printf("bulk delete: %ld rows in one transaction -> %ld unavailable sent in %.3f s "
           "(%.0f rows/s; chanstatd CPU %.3f s)\n",
           rows, got, dt, (double)rows / dt, cpu);
    printf("chanstatd RSS %ld KiB\n", bench_rss_kib(&b));
    sqlite3_close(db);
    bench_finish(&b);
    return 0;
}
