/* bench_startup.c - chanstatd's start-up and shutdown with a large database.
 *
 * A database of C channels, each with an owner whose roster row is 'to'
 * (approved: chanstatd probes it after the handshake), and R roster rows
 * in all (the rest are watchers, 'from').  It is generated in one
 * transaction with the journal off, then switched to WAL; given a path,
 * the file is kept and reused by later runs with the same sizes.
 *
 * Three runs of chanstatd against a fake XEP-0114 server that reads all
 * it is sent, as a server would:
 *  1. time from exec to the handshake (online), time until all C owner
 *     probes were received, RSS at both points, then 3 s more to check
 *     that no probe comes twice, then SIGTERM.  While the probes arrive,
 *     a ping every 50 ms (the next once the last was answered): how long
 *     other stanzas wait behind the probe cursor;
 *  2. SIGTERM 100 ms after exec;
 *  3. SIGTERM when half of the probes were received.
 * For each SIGTERM: the time until chanstatd had exited.  The fake server
 * answers chanstatd's </stream:stream> with its own and closes, as a
 * server does.
 *
 *   bench_startup CHANSTATD [C [R [DBFILE]]]     defaults 1000000 10000000 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchlib.h"
#include "cs_util.h"

#define PROBE "type='probe'"
#define STREAM_END "</stream:stream>"
#define LINGER_S 3.0
#define SILENCE_S 60.0
#define RESULT "type='result'"
#define PING_EVERY_S 0.05
#define MAX_PINGS 4096

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void check(sqlite3 *db, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE) {
        fprintf(stderr, "bench: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static long count_of(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    long n;
    check(db, sqlite3_prepare_v2(db, sql, -1, &st, NULL), sql);
    if (sqlite3_step(st) != SQLITE_ROW)
        check(db, SQLITE_ERROR, sql);
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void step(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
    check(db, sqlite3_step(st), what);
    sqlite3_reset(st);
}

/* Channels c0000000..., owners o0000000@a.bench with a 'to' row, and
 * watchers w00000000@b.bench...: all inserted in key order, so every
 * index is appended to.  R - C watchers spread evenly. */
static void generate(struct bench *b, long channels, long rows)
{
    sqlite3 *db = bench_db(b);
    sqlite3_stmt *ch, *ro;
    double t0 = bench_now();
    long w = 0, done = 0;
    char name[32], jid[64];

    bench_sql(db, "PRAGMA journal_mode = OFF");
    bench_sql(db, "PRAGMA synchronous = OFF");
    bench_sql(db, "PRAGMA cache_size = -1048576"); /* 1 GiB */
    bench_sql(db, "BEGIN");
    check(
        db,
        sqlite3_prepare_v2(db, "INSERT INTO channel (name, owner) VALUES (?1, ?2)", -1, &ch, NULL),
        "preparing");
    check(db,
          sqlite3_prepare_v2(db,
                             "INSERT INTO roster (channel, jid, subscription) VALUES (?1, ?2, ?3)",
                             -1, &ro, NULL),
          "preparing");
    for (long c = 0; c < channels; c++) {
        /* Rows of this channel: its share of R, the owner's row first. */
        long upto = (long)((double)rows * (double)(c + 1) / (double)channels);
        snprintf(name, sizeof(name), "c%07ld", c);
        snprintf(jid, sizeof(jid), "o%07ld@a.bench", c);
        sqlite3_bind_text(ch, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(ch, 2, jid, -1, SQLITE_STATIC);
        step(db, ch, "inserting a channel");
        sqlite3_bind_text(ro, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(ro, 2, jid, -1, SQLITE_STATIC);
        sqlite3_bind_text(ro, 3, "to", -1, SQLITE_STATIC);
        step(db, ro, "inserting an owner row");
        done++;
        sqlite3_bind_text(ro, 3, "from", -1, SQLITE_STATIC);
        while (done < upto) {
            snprintf(jid, sizeof(jid), "w%08ld@b.bench", w++);
            sqlite3_bind_text(ro, 2, jid, -1, SQLITE_STATIC);
            step(db, ro, "inserting a watcher row");
            done++;
        }
        if ((c + 1) % (channels / 10 > 0 ? channels / 10 : 1) == 0) {
            fprintf(stderr, "  generating: %ld channels, %ld rows, %.0f s\n", c + 1, done,
                    bench_now() - t0);
        }
    }
    sqlite3_finalize(ch);
    sqlite3_finalize(ro);
    bench_sql(db, "COMMIT");
    bench_sql(db, "PRAGMA journal_mode = WAL");
    check(db, sqlite3_close(db), "closing");
    printf("generated %ld channels and %ld roster rows in %.1f s\n", channels, done,
           bench_now() - t0);
}

struct run {
    /* What ends the run: SIGTERM at kill_at_s after exec, or kill_linger_s
     * after kill_at_probes probes were received. */
    double kill_at_s;
    long kill_at_probes;
    double kill_linger_s;
    /* Results, in seconds after exec (0: did not happen). */
    double online, all_probes, killed, exited;
    long probes, rss_online, rss_probes;
    double cpu_probes;
    int saw_end;
    /* With pings set: one XEP-0199 ping every PING_EVERY_S while probes
     * arrive, the next only once the last was answered. */
    int pings;
    long npings;
    double rtt[MAX_PINGS];
};

static void drive(struct bench *b, const char *chanstatd, long channels, struct run *r)
{
    static const char hdr[] = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                              "xmlns='jabber:component:accept' id='bench1'>";
    static char buf[1 << 20];
    char digest[41], want[64];
    size_t have = 0;  /* bytes in buf: a carried tail, then what was read */
    size_t carry = 0; /* of those, the tail carried from the previous read */
    int state = 0;    /* 0 greeting, 1 handshake, 2 online */
    double last_data, t_probes_done = 0, ping_sent = 0;
    int status, ping_out = 0;

    cs_sha1_hex("bench1s", 7, digest);
    snprintf(want, sizeof(want), "<handshake>%s</handshake>", digest);
    bench_spawn(b, chanstatd);
    last_data = bench_now();
    for (;;) {
        double now = bench_now(), since = now - b->t_exec;
        struct pollfd pfd = {.fd = b->fd >= 0 ? b->fd : b->lfd, .events = POLLIN};
        int pr;

        if (!r->killed) {
            bool due = r->kill_at_s > 0 && since >= r->kill_at_s;
            if (r->kill_at_probes > 0 && r->probes >= r->kill_at_probes) {
                if (t_probes_done == 0)
                    t_probes_done = now;
                due = now - t_probes_done >= r->kill_linger_s;
            }
            if (due || now - last_data > SILENCE_S) {
                if (!due)
                    fprintf(stderr, "bench: nothing from chanstatd for %.0f s; stopping it\n",
                            SILENCE_S);
                kill(b->pid, SIGTERM);
                r->killed = since;
            }
        }
        if (r->pings && state == 2 && b->fd >= 0 && !r->killed && !ping_out &&
            r->probes < channels && r->npings < MAX_PINGS && now - ping_sent >= PING_EVERY_S) {
            char ping[160];
            int n = snprintf(ping, sizeof(ping),
                             "<iq type='get' id='p%ld' from='u@x.bench/r' to='status.bench'>"
                             "<ping xmlns='urn:xmpp:ping'/></iq>",
                             r->npings);
            bench_send(b, ping, (size_t)n);
            ping_sent = now;
            ping_out = 1;
        }
        if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
            r->exited = bench_now() - b->t_exec;
            break;
        }
        if (b->fd < 0 && state > 0) {
            usleep(1000); /* closed: only the exit is awaited */
            continue;
        }
        pr = poll(&pfd, 1, r->killed ? 1 : 5);
        if (pr <= 0)
            continue;
        if (b->fd < 0) {
            b->fd = accept(b->lfd, NULL, NULL);
            if (b->fd < 0) {
                fprintf(stderr, "bench: accept: %s\n", strerror(errno));
                exit(1);
            }
            continue;
        }
        ssize_t n = recv(b->fd, buf + have, sizeof(buf) - have - 1, 0);
        if (n <= 0) {
            /* Before the greeting: a connection left over from an earlier
             * run in the listen queue; the next one may be this run's. */
            if (!r->killed && state > 0)
                printf("chanstatd closed the connection %.3f s after exec, before SIGTERM\n",
                       bench_now() - b->t_exec);
            close(b->fd);
            b->fd = -1;
            have = 0;
            continue;
        }
        last_data = bench_now();
        have += (size_t)n;
        buf[have] = '\0';
        if (state == 0 && memmem(buf, have, "to='status.bench'>", 18)) {
            bench_send(b, hdr, sizeof(hdr) - 1);
            state = 1;
        }
        if (state == 1) {
            char *p = memmem(buf, have, want, strlen(want));
            if (p == NULL) {
                if (have > sizeof(buf) / 2) {
                    fprintf(stderr, "bench: no handshake from chanstatd\n");
                    exit(1);
                }
                continue; /* keep all until the handshake */
            }
            bench_send(b, "<handshake/>", 12);
            r->online = bench_now() - b->t_exec;
            r->rss_online = bench_rss_kib(b);
            state = 2;
            /* Keep only what followed the handshake. */
            have -= (size_t)(p + strlen(want) - buf);
            memmove(buf, p + strlen(want), have);
            carry = 0;
        }
        if (state != 2)
            continue;
        /* Count the probes that end past the carried tail (those inside it
         * were counted with the previous read). */
        for (char *p = buf; (p = memmem(p, have - (size_t)(p - buf), PROBE, strlen(PROBE)));
             p += strlen(PROBE)) {
            if ((size_t)(p - buf) + strlen(PROBE) > carry) {
                r->probes++;
                if (r->probes == channels) {
                    r->all_probes = bench_now() - b->t_exec;
                    r->rss_probes = bench_rss_kib(b);
                    r->cpu_probes = bench_cpu(b);
                }
            }
        }
        for (char *p = buf;
             ping_out && (p = memmem(p, have - (size_t)(p - buf), RESULT, strlen(RESULT)));
             p += strlen(RESULT)) {
            if ((size_t)(p - buf) + strlen(RESULT) > carry) {
                r->rtt[r->npings++] = bench_now() - ping_sent;
                ping_out = 0;
            }
        }
        if (r->killed && memmem(buf, have, STREAM_END, strlen(STREAM_END))) {
            r->saw_end = 1;
            bench_send(b, STREAM_END, strlen(STREAM_END));
            close(b->fd);
            b->fd = -1;
            continue;
        }
        carry = have < strlen(STREAM_END) - 1 ? have : strlen(STREAM_END) - 1;
        memmove(buf, buf + have - carry, carry);
        have = carry;
    }
    if (b->fd >= 0) {
        close(b->fd);
        b->fd = -1;
    }
    b->pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        printf("chanstatd exit status %d\n", status);
}

int main(int argc, char **argv)
{
    const char *chanstatd = argc > 1 ? argv[1] : "src/chanstatd";
    long channels = argc > 2 ? atol(argv[2]) : 1000000;
    long rows = argc > 3 ? atol(argv[3]) : 10000000;
    const char *dbfile = argc > 4 ? argv[4] : NULL;
    struct bench b;
    struct stat st;
    sqlite3 *db;
    long have_c, have_r;

    if (channels < 2 || rows < channels) {
        fprintf(stderr, "usage: bench_startup CHANSTATD [C [R [DBFILE]]] (R >= C >= 2)\n");
        return 2;
    }
    bench_init_db(&b, chanstatd, NULL, dbfile);
    db = bench_db(&b);
    have_c = count_of(db, "SELECT count(*) FROM channel");
    have_r = count_of(db, "SELECT count(*) FROM roster");
    sqlite3_close(db);
    if (have_c == 0 && have_r == 0) {
        generate(&b, channels, rows);
    } else if (have_c == channels && have_r == rows) {
        printf("reusing %s: %ld channels, %ld roster rows\n", dbfile, have_c, have_r);
    } else {
        fprintf(stderr, "bench: %s holds %ld channels and %ld rows, not %ld and %ld\n", b.db,
                have_c, have_r, channels, rows);
        return 1;
    }
    if (stat(b.db, &st) == 0)
        printf("database file %.0f MiB\n", (double)st.st_size / 1048576.0);

    struct run r1 = {.kill_at_probes = channels, .kill_linger_s = LINGER_S, .pings = 1};
    drive(&b, chanstatd, channels, &r1);
    printf("online (handshake done) %.3f s after exec; RSS %ld KiB\n", r1.online, r1.rss_online);
    if (r1.all_probes > 0)
        printf("all %ld owner probes received %.3f s after exec (%.3f s after online, %.0f "
               "probes/s); RSS %ld KiB; chanstatd CPU %.2f s\n",
               channels, r1.all_probes, r1.all_probes - r1.online,
               (double)channels / (r1.all_probes - r1.online), r1.rss_probes, r1.cpu_probes);
    printf("probes received in all: %ld (expected %ld)\n", r1.probes, channels);
    if (r1.npings > 0) {
        qsort(r1.rtt, (size_t)r1.npings, sizeof(r1.rtt[0]), cmp_double);
        printf("pings answered during the probe phase: %ld, round trip p50 %.1f ms, p99 %.1f "
               "ms, max %.1f ms\n",
               r1.npings, r1.rtt[r1.npings / 2] * 1e3, r1.rtt[r1.npings * 99 / 100] * 1e3,
               r1.rtt[r1.npings - 1] * 1e3);
    }
    printf("SIGTERM %.1f s after the last probe: exited after %.3f s%s\n", LINGER_S,
           r1.exited - r1.killed, r1.saw_end ? "" : " (no </stream:stream> seen)");

    struct run r2 = {.kill_at_s = 0.1};
    drive(&b, chanstatd, channels, &r2);
    printf("SIGTERM 100 ms after exec (%s): exited after %.3f s\n",
           r2.online > 0 ? "online" : "before the handshake", r2.exited - r2.killed);

    struct run r3 = {.kill_at_probes = channels / 2};
    drive(&b, chanstatd, channels, &r3);
    printf("SIGTERM after %ld of %ld probes (%.3f s after exec): exited after %.3f s, "
           "%ld probes received in all%s\n",
           channels / 2, channels, r3.killed, r3.exited - r3.killed, r3.probes,
           r3.saw_end ? "" : " (no </stream:stream> seen)");
    bench_finish(&b);
    return 0;
}
