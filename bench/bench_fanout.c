/* bench_fanout.c - presence fan-out throughput of chanstatd.
 *
 * Plays a fake XEP-0114 server: starts chanstatd against it with one
 * channel of N watchers (rows written straight into a fresh database, the
 * owner already bound), then sends R owner status changes, each answered
 * by N deliveries, and reads them all.  Prints deliveries per second of
 * wall time, chanstatd's CPU time per delivery (from /proc), deliveries
 * per CPU-second of chanstatd (one core), and chanstatd's resident memory.
 *
 *   bench_fanout CHANSTATD [WATCHERS [ROUNDS]]      (defaults 10000 and 200) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cs_util.h"

static void die(const char *what)
{
    fprintf(stderr, "bench_fanout: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime + stime of pid in seconds. */
static double cpu_of(pid_t pid)
{
    char path[64], buf[1024];
    FILE *f;
    unsigned long ut = 0, st = 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL || fgets(buf, sizeof(buf), f) == NULL)
        die("reading /proc stat");
    fclose(f);
    /* Fields 14 and 15, counted after the ')' that ends the command name. */
    char *p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
                            &st) != 2)
        die("parsing /proc stat");
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    }
    fclose(f);
    return kib;
}

static void sql(sqlite3 *db, const char *q)
{
    char *msg = NULL;
    if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "bench_fanout: %s: %s\n", q, msg);
        exit(1);
    }
}

static void read_until(int fd, const char *token, struct strbuf *sb)
{
    char buf[4096];
    while (sb->data == NULL || strstr(sb->data, token) == NULL) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            die("reading from chanstatd");
        strbuf_append(sb, buf, (size_t)n);
    }
}

/* Counts "<presence to=" in the stream, across read boundaries. */
static long count_deliveries(int fd, long want)
{
    static const char pat[] = "<presence to=";
    static char carry[sizeof(pat)];
    static size_t ncarry;
    char buf[1 << 16];
    long seen = 0;
    while (seen < want) {
        ssize_t n = recv(fd, buf + ncarry, sizeof(buf) - ncarry, 0);
        if (n <= 0)
            die("reading deliveries");
        memcpy(buf, carry, ncarry);
        size_t len = ncarry + (size_t)n;
        for (char *p = buf; (p = memmem(p, len - (size_t)(p - buf), pat, sizeof(pat) - 1));
             p += sizeof(pat) - 1)
            seen++;
        /* Keep one byte less than the pattern: a match ending the chunk
         * was counted already. */
        ncarry = len < sizeof(pat) - 2 ? len : sizeof(pat) - 2;
        memcpy(carry, buf + len - ncarry, ncarry);
    }
    return seen;
}

int main(int argc, char **argv)
{
    const char *chanstatd = argc > 1 ? argv[1] : "src/chanstatd";
    long watchers = argc > 2 ? atol(argv[2]) : 10000;
    long rounds = argc > 3 ? atol(argv[3]) : 200;
    char dir[] = "/tmp/bench_fanout.XXXXXX", path[256], q[1024], digest[41];
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t salen = sizeof(sa);
    struct strbuf in = {0};
    sqlite3 *db;
    int lfd, fd;
    pid_t pid;
    FILE *f;

    signal(SIGPIPE, SIG_IGN);
    if (mkdtemp(dir) == NULL)
        die("mkdtemp");
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0)
        die("listening");

    snprintf(path, sizeof(path), "%s/chanstat.conf", dir);
    f = fopen(path, "w");
    fprintf(f,
            "[component]\ndomain = status.bench\nsecret = s\nport = %d\n"
            "[storage]\ndatabase = %s/chanstat.db\nsynchronous = normal\n[log]\nlevel = warning\n",
            ntohs(sa.sin_port), dir);
    fclose(f);
    snprintf(q, sizeof(q), "%s -c %s --init-db >/dev/null", chanstatd, path);
    if (system(q) != 0)
        die("chanstatd --init-db");
    snprintf(q, sizeof(q), "%s/chanstat.db", dir);
    if (sqlite3_open(q, &db) != SQLITE_OK)
        die("opening the database");
    sql(db, "BEGIN");
    sql(db, "INSERT INTO channel (name, owner) VALUES ('ch', 'owner@a.bench')");
    sql(db, "INSERT INTO roster (channel, jid, subscription) VALUES ('ch', 'owner@a.bench', 'to')");
    for (long i = 0; i < watchers; i++) {
        snprintf(q, sizeof(q),
                 "INSERT INTO roster (channel, jid, subscription) VALUES ('ch', 'w%ld@b.bench', "
                 "'from')",
                 i);
        sql(db, q);
    }
    sql(db, "COMMIT");
    sqlite3_close(db);

    pid = fork();
    if (pid == 0) {
        execl(chanstatd, chanstatd, "-c", path, (char *)NULL);
        _exit(127);
    }
    fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        die("accept");
    read_until(fd, "to='status.bench'>", &in);
    const char *hdr = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                      "xmlns='jabber:component:accept' id='bench1'>";
    if (send(fd, hdr, strlen(hdr), 0) < 0)
        die("send");
    cs_sha1_hex("bench1s", 7, digest);
    read_until(fd, "</handshake>", &in);
    if (strstr(in.data, digest) == NULL) {
        fprintf(stderr, "bench_fanout: wrong handshake digest\n");
        return 1;
    }
    send(fd, "<handshake/>", 12, 0);
    read_until(fd, "type='probe'", &in); /* the home probes its bound owner */
    /* The resync after the reconnect delay sends N presences: take them. */
    count_deliveries(fd, watchers);

    double cpu0 = cpu_of(pid), t0 = now_s();
    long total = 0;
    for (long r = 0; r < rounds; r++) {
        char p[256];
        int n = snprintf(p, sizeof(p),
                         "<presence from='owner@a.bench/r' to='ch@status.bench'><show>%s</show>"
                         "<status>round %ld</status></presence>",
                         r % 2 ? "away" : "dnd", r);
        if (send(fd, p, (size_t)n, 0) != n)
            die("send");
        total += count_deliveries(fd, watchers);
    }
    double wall = now_s() - t0, cpu = cpu_of(pid) - cpu0;
    long rss = rss_kib(pid);

    printf("fan-out: %ld watchers x %ld changes = %ld deliveries\n", watchers, rounds, total);
    printf("wall %.3f s: %.0f deliveries/s\n", wall, (double)total / wall);
    printf("chanstatd CPU %.3f s: %.3f us/delivery, %.0f deliveries per CPU-second\n", cpu,
           cpu * 1e6 / (double)total, (double)total / cpu);
    printf("chanstatd RSS %ld KiB with %ld watchers\n", rss, watchers);

    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    snprintf(q, sizeof(q), "rm -rf %s", dir);
    return system(q) == 0 ? 0 : 1;
}
