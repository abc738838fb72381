/* bench_attrs.c - chanstatd's answer to stanzas with many attributes.
 *
 * Plays the XMPP server (bench/benchlib.c) with max_stanza_bytes raised
 * to 4 MiB, so that only the cap of attributes per element applies, and
 * reconnect_min_ms lowered to 10 ms, so that the reconnect measures
 * chanstatd rather than its back-off:
 *  1. P pings to the component domain, one at a time, each with 60
 *     attributes (under the cap), and P with the usual 4: round trip p50
 *     and p99;
 *  2. one ping with 24,000 and one with 96,000 attributes (over the cap):
 *     time from the first byte sent until chanstatd's stream error, until
 *     it closed the connection, and until it was online again; its CPU
 *     time over that span;
 *  3. one ordinary ping after that, answered normally.
 *
 *   bench_attrs CHANSTATD [P]      (default 1000) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "benchlib.h"
#include "cs_util.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A ping from u@x.bench with attrs attributes in all (at least 4: type,
 * id, from, to).  Caller frees sb. */
static void ping(struct strbuf *sb, long id, long attrs)
{
    sb->len = 0;
    strbuf_printf(sb, "<iq type='get' id='p%ld' from='u@x.bench/r' to='status.bench'", id);
    for (long i = 4; i < attrs; i++)
        strbuf_printf(sb, " a%ld='v'", i);
    strbuf_append_str(sb, "><ping xmlns='urn:xmpp:ping'/></iq>");
}

static void round_trips(struct bench *b, long n, long attrs)
{
    struct strbuf sb = {0};
    double *rtt = malloc((size_t)n * sizeof(*rtt));
    if (rtt == NULL)
        exit(1);
    for (long i = 0; i < n; i++) {
        double t;
        ping(&sb, i, attrs);
        t = bench_now();
        bench_send(b, sb.data, sb.len);
        bench_count(b, "type='result'", 1);
        rtt[i] = bench_now() - t;
    }
    qsort(rtt, (size_t)n, sizeof(*rtt), cmp_double);
    printf("ping with %ld attributes (%zu bytes), %ld one at a time: answered, round trip p50 "
           "%.1f us, p99 %.1f us\n",
           attrs, sb.len, n, rtt[n / 2] * 1e6, rtt[n * 99 / 100] * 1e6);
    free(rtt);
    strbuf_free(&sb);
}

/* Sends what the socket takes; stops quietly when chanstatd closed it
 * (it may answer before the stanza is complete). */
static size_t send_some(struct bench *b, const char *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(b->fd, data + done, len - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        done += (size_t)n;
    }
    return done;
}

static void oversized(struct bench *b, long attrs)
{
    struct strbuf sb = {0};
    char buf[65536];
    double t0, t_sent, t_err = 0, t_eof = 0, t_online, cpu0;
    size_t sent;
    int saw = 0;

    ping(&sb, attrs, attrs);
    cpu0 = bench_cpu(b);
    t0 = bench_now();
    sent = send_some(b, sb.data, sb.len);
    t_sent = bench_now();
    /* What chanstatd sends until it closes: the stream error, then EOF. */
    for (;;) {
        ssize_t n = recv(b->fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0) {
            t_eof = bench_now();
            break;
        }
        buf[n] = '\0';
        if (!saw && memmem(buf, (size_t)n, "<stream:error>", 14)) {
            t_err = bench_now();
            saw = 1;
            if (memmem(buf, (size_t)n, "policy-violation", 16) == NULL)
                printf("  (the stream error is not policy-violation: %.200s)\n", buf);
        }
    }
    close(b->fd);
    b->fd = -1;
    bench_handshake(b);
    t_online = bench_now();
    printf("ping with %ld attributes (%zu bytes, %zu sent) took %.1f ms to send; stream "
           "error %.1f ms after the first byte, connection closed after %.1f ms, online again "
           "after %.1f ms; chanstatd CPU %.0f ms\n",
           attrs, sb.len, sent, (t_sent - t0) * 1e3, saw ? (t_err - t0) * 1e3 : -1.0,
           (t_eof - t0) * 1e3, (t_online - t0) * 1e3, (bench_cpu(b) - cpu0) * 1e3);
    if (!saw)
        printf("  no stream error was received\n");
    strbuf_free(&sb);
}

int main(int argc, char **argv)
{
    const char *chanstatd = argc > 1 ? argv[1] : "src/chanstatd";
    long n = argc > 2 ? atol(argv[2]) : 1000;
    struct bench b;

    if (n < 1) {
        fprintf(stderr, "usage: bench_attrs CHANSTATD [P]\n");
        return 2;
    }
    bench_init(&b, chanstatd,
               "[limits]\nmax_stanza_bytes = 4194304\n"
               "[component]\nreconnect_min_ms = 10\n");
    bench_start(&b, chanstatd);
    round_trips(&b, n, 60);
    round_trips(&b, n, 4);
    oversized(&b, 24000);
    oversized(&b, 96000);
    round_trips(&b, 1, 60);
    printf("chanstatd RSS %ld KiB\n", bench_rss_kib(&b));
    bench_finish(&b);
    return 0;
}
