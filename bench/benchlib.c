/* benchlib.c - the fake XEP-0114 server of the benchmarks. */
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

#include "benchlib.h"
#include "cs_util.h"

static void die(const char *what)
{
    fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_init(struct bench *b, const char *chanstatd, const char *extra_ini)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t salen = sizeof(sa);
    char cmd[512];
    FILE *f;

    memset(b, 0, sizeof(*b));
    signal(SIGPIPE, SIG_IGN);
    if (cs_strlcpy(b->dir, "/tmp/chanstat-bench.XXXXXX", sizeof(b->dir)) >= sizeof(b->dir) ||
        mkdtemp(b->dir) == NULL)
        die("mkdtemp");
    b->lfd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (b->lfd < 0 || bind(b->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(b->lfd, 1) != 0 || getsockname(b->lfd, (struct sockaddr *)&sa, &salen) != 0)
        die("listening");
    snprintf(b->conf, sizeof(b->conf), "%s/chanstat.conf", b->dir);
    snprintf(b->db, sizeof(b->db), "%s/chanstat.db", b->dir);
    f = fopen(b->conf, "w");
    if (f == NULL)
        die("writing the config");
    fprintf(f,
            "[component]\ndomain = status.bench\nsecret = s\nport = %d\n"
            "[storage]\ndatabase = %s\n[log]\nlevel = warning\n%s",
            ntohs(sa.sin_port), b->db, extra_ini ? extra_ini : "");
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s -c %s --init-db >/dev/null", chanstatd, b->conf);
    if (system(cmd) != 0)
        die("chanstatd --init-db");
}

sqlite3 *bench_db(struct bench *b)
{
    sqlite3 *db;
    if (sqlite3_open(b->db, &db) != SQLITE_OK)
        die("opening the database");
    return db;
}

void bench_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "bench: %s: %s\n", sql, msg);
        exit(1);
    }
}

static char pending[1 << 16];
static size_t npending;

/* Reads more input after what is pending. */
static void fill(struct bench *b)
{
    ssize_t n;
    if (npending == sizeof(pending)) {
        memmove(pending, pending + sizeof(pending) / 2, sizeof(pending) / 2);
        npending = sizeof(pending) / 2;
    }
    n = recv(b->fd, pending + npending, sizeof(pending) - npending, 0);
    if (n <= 0)
        die("reading from chanstatd");
    npending += (size_t)n;
}

void bench_read_until(struct bench *b, const char *token)
{
    size_t tl = strlen(token);
    for (;;) {
        char *p = memmem(pending, npending, token, tl);
        if (p) {
            size_t used = (size_t)(p - pending) + tl;
            memmove(pending, pending + used, npending - used);
            npending -= used;
            return;
        }
        fill(b);
    }
}

long bench_count(struct bench *b, const char *pat, long want)
{
    size_t pl = strlen(pat);
    long seen = 0;
    while (seen < want) {
        char *p;
        size_t off = 0;
        while ((p = memmem(pending + off, npending - off, pat, pl)) != NULL && seen < want) {
            seen++;
            off = (size_t)(p - pending) + pl;
        }
        /* Keep only what may still hold the start of a match. */
        size_t keep = npending - off < pl - 1 ? npending - off : pl - 1;
        if (seen >= want)
            keep = npending - off;
        memmove(pending, pending + npending - keep, keep);
        npending = keep;
        if (seen < want)
            fill(b);
    }
    return seen;
}

void bench_send(struct bench *b, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(b->fd, data, len, 0);
        if (n < 0)
            die("writing to chanstatd");
        data += n;
        len -= (size_t)n;
    }
}

void bench_start(struct bench *b, const char *chanstatd)
{
    static const char hdr[] = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                              "xmlns='jabber:component:accept' id='bench1'>";
    char digest[41], want[64];
    b->pid = fork();
    if (b->pid == 0) {
        execl(chanstatd, chanstatd, "-c", b->conf, (char *)NULL);
        _exit(127);
    }
    b->fd = accept(b->lfd, NULL, NULL);
    if (b->fd < 0)
        die("accept");
    bench_read_until(b, "to='status.bench'>");
    bench_send(b, hdr, sizeof(hdr) - 1);
    cs_sha1_hex("bench1s", 7, digest);
    snprintf(want, sizeof(want), "<handshake>%s</handshake>", digest);
    bench_read_until(b, want);
    bench_send(b, "<handshake/>", 12);
}

double bench_cpu(const struct bench *b)
{
    char path[64], buf[1024];
    unsigned long ut = 0, st = 0;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)b->pid);
    f = fopen(path, "r");
    if (f == NULL || fgets(buf, sizeof(buf), f) == NULL)
        die("reading /proc stat");
    fclose(f);
    /* utime and stime: fields 14 and 15, after the ')' ending the name. */
    char *p = strrchr(buf, ')');
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        die("parsing /proc stat");
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

long bench_rss_kib(const struct bench *b)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)b->pid);
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

void bench_finish(struct bench *b)
{
    char cmd[128];
    kill(b->pid, SIGTERM);
    waitpid(b->pid, NULL, 0);
    close(b->fd);
    close(b->lfd);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", b->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: cannot remove %s\n", b->dir);
}
