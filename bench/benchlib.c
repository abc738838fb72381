/* benchlib.c - the fake XEP-0114 server of the benchmarks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
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
    bench_init_db(b, chanstatd, extra_ini, NULL);
}

void bench_init_db(struct bench *b, const char *chanstatd, const char *extra_ini,
                   const char *db_path)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t salen = sizeof(sa);
    char cmd[1024];
    FILE *f;

    memset(b, 0, sizeof(*b));
    b->fd = -1;
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
    snprintf(b->log, sizeof(b->log), "%s/chanstatd.log", b->dir);
    b->own_db = db_path == NULL;
    if (db_path == NULL)
        snprintf(b->db, sizeof(b->db), "%s/chanstat.db", b->dir);
    else if (cs_strlcpy(b->db, db_path, sizeof(b->db)) >= sizeof(b->db)) {
        fprintf(stderr, "bench: database path too long: %s\n", db_path);
        exit(1);
    }
    f = fopen(b->conf, "w");
    if (f == NULL)
        die("writing the config");
    /* BENCH_LOG_LEVEL=info or debug makes chanstatd's log say more. */
    fprintf(f,
            "[component]\ndomain = status.bench\nsecret = s\nport = %d\n"
            "[storage]\ndatabase = %s\n[log]\nlevel = %s\n%s",
            ntohs(sa.sin_port), b->db,
            getenv("BENCH_LOG_LEVEL") ? getenv("BENCH_LOG_LEVEL") : "warning",
            extra_ini ? extra_ini : "");
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s -c %s --init-db >/dev/null 2>>%s", chanstatd, b->conf, b->log);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench: chanstatd --init-db failed; see %s\n", b->log);
        exit(1);
    }
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
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        fprintf(stderr, "bench: chanstatd sent nothing for %d s; giving up (log: %s)\n",
                BENCH_READ_TIMEOUT_S, b->log);
        exit(1);
    }
    if (n == 0) {
        fprintf(stderr, "bench: chanstatd closed the connection (log: %s)\n", b->log);
        exit(1);
    }
    if (n < 0)
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

void bench_spawn(struct bench *b, const char *chanstatd)
{
    npending = 0;
    b->t_exec = bench_now();
    b->pid = fork();
    if (b->pid < 0)
        die("fork");
    if (b->pid == 0) {
        int fd = open(b->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0)
            dup2(fd, 2);
        execl(chanstatd, chanstatd, "-c", b->conf, (char *)NULL);
        _exit(127);
    }
}

void bench_handshake(struct bench *b)
{
    static const char hdr[] = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                              "xmlns='jabber:component:accept' id='bench1'>";
    struct timeval tv = {.tv_sec = BENCH_READ_TIMEOUT_S};
    char digest[41], want[64];
    int one = 1;

    npending = 0; /* nothing of an earlier connection */
    b->fd = accept(b->lfd, NULL, NULL);
    if (b->fd < 0)
        die("accept");
    /* No Nagle delay on the fake server's side: a stanza written right
     * after another must not wait for an acknowledgement. */
    if (setsockopt(b->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(b->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
        die("setting socket options");
    bench_read_until(b, "to='status.bench'>");
    bench_send(b, hdr, sizeof(hdr) - 1);
    cs_sha1_hex("bench1s", 7, digest);
    snprintf(want, sizeof(want), "<handshake>%s</handshake>", digest);
    bench_read_until(b, want);
    bench_send(b, "<handshake/>", 12);
}

void bench_start(struct bench *b, const char *chanstatd)
{
    bench_spawn(b, chanstatd);
    bench_handshake(b);
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

double bench_stop(struct bench *b)
{
    static const char end[] = "</stream:stream>";
    char buf[1 << 16];
    size_t keep = 0;
    double t0;
    int status = 0;

    if (b->pid <= 0)
        return 0;
    t0 = bench_now();
    if (kill(b->pid, SIGTERM) != 0)
        die("kill");
    /* A real server reads what is still queued, answers the stream's end
     * with its own, and closes; chanstatd waits for that (up to its close
     * timeout) before it exits. */
    while (b->fd >= 0) {
        struct pollfd pfd = {.fd = b->fd, .events = POLLIN};
        ssize_t n;
        if (poll(&pfd, 1, 100) == 0) {
            if (waitpid(b->pid, &status, WNOHANG) == b->pid)
                goto exited;
            continue;
        }
        n = recv(b->fd, buf + keep, sizeof(buf) - keep, 0);
        if (n <= 0)
            break;
        n += (ssize_t)keep;
        if (memmem(buf, (size_t)n, end, sizeof(end) - 1) != NULL) {
            (void)send(b->fd, end, sizeof(end) - 1, 0);
            break;
        }
        /* Keep a tail that may hold the start of the end tag. */
        keep = (size_t)n < sizeof(end) - 1 ? (size_t)n : sizeof(end) - 1;
        memmove(buf, buf + n - (ssize_t)keep, keep);
    }
    if (b->fd >= 0) {
        close(b->fd);
        b->fd = -1;
    }
    if (waitpid(b->pid, &status, 0) != b->pid)
        die("waitpid");
exited:
    t0 = bench_now() - t0;
    if (b->fd >= 0) {
        close(b->fd);
        b->fd = -1;
    }
    b->pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "bench: chanstatd ended with status %d (log: %s)\n", status, b->log);
    return t0;
}

void bench_finish(struct bench *b)
{
    char cmd[256];
    struct stat st;

    bench_stop(b);
    close(b->lfd);
    fflush(stdout); /* what the benchmark printed comes first */
    if (stat(b->log, &st) == 0 && st.st_size > 0) {
        /* Keep what chanstatd said; the database may be large. */
        if (b->own_db) {
            static const char *const suffix[] = {"", "-wal", "-shm"};
            for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
                snprintf(cmd, sizeof(cmd), "%s/chanstat.db%s", b->dir, suffix[i]);
                (void)unlink(cmd);
            }
        }
        fprintf(stderr, "bench: chanstatd wrote %lld bytes to its log: %s\n", (long long)st.st_size,
                b->log);
        return;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", b->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: cannot remove %s\n", b->dir);
}
