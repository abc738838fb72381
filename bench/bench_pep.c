/* bench_pep.c - an avatar change at a channel with PEP watchers.
 *
 * Plays the XMPP server (bench/benchlib.c): one channel with 2N watchers
 * (rows written straight into a fresh database, owner already bound and
 * available, a PNG avatar set).  Every watcher has one resource that
 * sends the channel a directed available presence:
 *   - wI@b.bench/r (N of them) with entity capabilities (XEP-0115) of one
 *     of NOTIFY_VERS feature sets, each with urn:xmpp:avatar:metadata+notify;
 *   - nI@b.bench/r (N): even I without <c/>, odd I with the caps of one
 *     more feature set that has no +notify.
 * chanstatd asks one disco#info per distinct 'ver' (NOTIFY_VERS + 1 of
 * them, not one per watcher); the bench answers each with the features
 * that hash to it (capsver_sha1()), counts the gets, and reads the
 * current metadata item each +notify resource is then sent.
 *
 * Then R avatar changes (two avatars of AVATAR_BYTES alternate), each an
 * UPDATE of the channel row by another connection; chanstatd sees it in
 * its change log (read on its tick, every 250 ms; the commits are
 * spread over the tick's phase) and sends the status presence with the
 * new photo hash (XEP-0153) to all 2N bare JIDs and one metadata event
 * (XEP-0084) to each of the N +notify resources.  All are
 * read before the next change.  Prints median figures of the changes:
 * time from the commit to the last stanza, time from the first stanza to
 * the last (the polling delay left out), presences and events per second;
 * chanstatd's CPU (from /proc, 10 ms ticks: the mean over the changes)
 * and its resident memory.  BENCH_VERBOSE=1 prints each change's figures
 * on standard error.
 *
 * Exits non-zero when any event reaches a watcher without +notify, when
 * the disco#info gets are not one per distinct 'ver', or when a stanza
 * carries a stale hash.
 *
 *   bench_pep CHANSTATD [WATCHERS [ROUNDS [AVATAR_BYTES]]]  (10000 20 4096)
 *
 * WATCHERS is N: there are N watchers with +notify and N without. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "benchlib.h"
#include "cs_capsver.h"
#include "cs_util.h"
#include "cs_xml.h"

#define DOMAIN "status.bench"
#define CHAN "ch@" DOMAIN
#define CAPS_NODE "https://bench"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NOTIFY_VERS 4
#define NVERS (NOTIFY_VERS + 1) /* the last one without +notify */
#define MAX_ROUNDS 101
#define QUIET_MS 300 /* no stanza for this long: nothing more is coming */

static const char *const extra_feature[NVERS] = {"urn:xmpp:bench:a", "urn:xmpp:bench:b",
                                                 "urn:xmpp:bench:c", "urn:xmpp:bench:d",
                                                 "urn:xmpp:bench:e"};

static char features[NVERS][1024]; /* the <identity/> and <feature/>s of each set */
static char ver[NVERS][CAPSVER_LEN];
static long asked[NVERS]; /* disco#info gets per 'ver' */

/* What chanstatd sent since the last reset. */
struct tally {
    long pres_w, pres_n; /* status presences with the expected photo to wI / nI */
    long pres_stale;     /* to a watcher with another photo */
    long ev_w;           /* events with the expected item to wI/r */
    long ev_stale;       /* to wI/r with another item */
    long ev_n;           /* any message to an nI: must stay 0 */
    long disco;          /* disco#info requests answered */
    long probes;         /* presence probes (to the bound owner) */
    long other;
    double first, last;           /* the first and last stanza seen */
    double pres_first, pres_last; /* ... of the counted presences */
    double ev_first, ev_last;     /* ... of the counted events */
};

static struct tally t;
static char want_hash[41]; /* the photo hash presences and events must carry */
static char *in;
static size_t nin, incap;
static struct strbuf out; /* to chanstatd, written as the socket takes it */
static double last_read;

static void fail(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(1);
}

/* The value of attribute name in the opening tag tag[0..len), copied
 * into buf; false when absent. */
static bool attr(const char *tag, size_t len, const char *name, char *buf, size_t size)
{
    char pat[32];
    int pl = snprintf(pat, sizeof(pat), " %s='", name);
    const char *p = memmem(tag, len, pat, (size_t)pl), *e;
    if (p == NULL)
        return false;
    p += pl;
    e = memchr(p, '\'', len - (size_t)(p - tag));
    if (e == NULL || (size_t)(e - p) >= size)
        return false;
    memcpy(buf, p, (size_t)(e - p));
    buf[e - p] = '\0';
    return true;
}

static void seen(double *first, double *last, double now)
{
    if (*first == 0)
        *first = now;
    *last = now;
}

/* A disco#info get for NODE#VER: answered with the features of VER, from
 * the full JID asked, with the same id. */
static void answer_disco(const char *s, size_t len, const char *to, const char *id)
{
    char node[256];
    const char *q = memmem(s, len, "<query", 6);
    int k;
    if (q == NULL || !attr(q, len - (size_t)(q - s), "node", node, sizeof(node)) ||
        strncmp(node, CAPS_NODE "#", sizeof(CAPS_NODE)) != 0)
        fail("a disco#info get without the node of the caps announced");
    for (k = 0; k < NVERS; k++)
        if (strcmp(node + sizeof(CAPS_NODE), ver[k]) == 0)
            break;
    if (k == NVERS)
        fail("a disco#info get for a 'ver' nobody announced");
    /* The resource asked must be one that announced this 'ver'. */
    long i = atol(to + 1);
    if (k < NOTIFY_VERS ? to[0] != 'w' || i % NOTIFY_VERS != k : to[0] != 'n' || i % 2 != 1)
        fail("a disco#info get to a resource that did not announce that 'ver'");
    asked[k]++;
    t.disco++;
    strbuf_printf(&out,
                  "<iq type='result' from='%s' to='" CHAN "' id='%s'><query xmlns='" NS_DISCO_INFO
                  "' node='%s'>%s</query></iq>",
                  to, id, node, features[k]);
}

/* One stanza s[0..len) whose opening tag is s[0..tag_len). */
static void stanza(const char *s, size_t len, size_t tag_len, double now)
{
    char to[128], id[64];
    bool has_to = attr(s, tag_len, "to", to, sizeof(to));
    bool watcher = has_to && (to[0] == 'w' || to[0] == 'n') && strstr(to, "@b.bench") != NULL;
    bool fresh = memmem(s, len, want_hash, 40) != NULL;

    seen(&t.first, &t.last, now);
    if (strncmp(s, "<presence", 9) == 0) {
        if (memmem(s, tag_len, "type='probe'", 12)) {
            t.probes++;
        } else if (watcher && strchr(to, '/') == NULL) {
            if (!fresh) {
                t.pres_stale++;
                return;
            }
            if (to[0] == 'w')
                t.pres_w++;
            else
                t.pres_n++;
            seen(&t.pres_first, &t.pres_last, now);
        } else {
            t.other++;
        }
    } else if (strncmp(s, "<message", 8) == 0) {
        if (watcher && to[0] == 'n') {
            t.ev_n++;
            if (t.ev_n == 1)
                fprintf(stderr, "bench: a message to a watcher without +notify: %.*s\n",
                        (int)(len < 400 ? len : 400), s);
        } else if (watcher && fresh && memmem(s, len, "urn:xmpp:avatar:metadata", 24)) {
            t.ev_w++;
            seen(&t.ev_first, &t.ev_last, now);
        } else if (watcher) {
            t.ev_stale++;
        } else {
            t.other++;
        }
    } else if (strncmp(s, "<iq", 3) == 0 && memmem(s, tag_len, "type='get'", 10) &&
               memmem(s, len, NS_DISCO_INFO, sizeof(NS_DISCO_INFO) - 1) && has_to &&
               attr(s, tag_len, "id", id, sizeof(id))) {
        answer_disco(s, len, to, id);
    } else {
        t.other++;
    }
}

/* Hands every complete stanza of in to stanza() and keeps the rest. */
static void parse(double now)
{
    size_t pos = 0;
    while (pos < nin) {
        const char *s = memchr(in + pos, '<', nin - pos), *gt, *end;
        char close[32];
        size_t name_len, tag_len, len;
        if (s == NULL) {
            pos = nin; /* whitespace between stanzas */
            break;
        }
        pos = (size_t)(s - in);
        gt = memchr(s, '>', nin - pos);
        if (gt == NULL)
            break;
        tag_len = (size_t)(gt - s) + 1;
        if (tag_len == 16 && strncmp(s, "</stream:stream>", 16) == 0)
            fail("chanstatd closed the stream");
        name_len = strcspn(s + 1, " />");
        if (gt[-1] == '/') {
            len = tag_len;
        } else {
            int cl = snprintf(close, sizeof(close), "</%.*s>", (int)name_len, s + 1);
            end = memmem(gt, nin - pos - tag_len + 1, close, (size_t)cl);
            if (end == NULL)
                break;
            len = (size_t)(end - s) + (size_t)cl;
        }
        stanza(s, len, tag_len, now);
        pos += len;
    }
    memmove(in, in + pos, nin - pos);
    nin -= pos;
}

/* Writes what the socket takes and reads what is there, waiting up to
 * timeout_ms for either.  False when nothing happened. */
static bool step(struct bench *b, int timeout_ms)
{
    struct pollfd p = {.fd = b->fd, .events = POLLIN | (out.len ? POLLOUT : 0)};
    bool any = false;
    int r = poll(&p, 1, timeout_ms);
    if (r < 0 && errno != EINTR)
        fail("poll failed");
    if (r <= 0)
        return false;
    if (p.revents & POLLOUT) {
        ssize_t n = send(b->fd, out.data, out.len, MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            fail("writing to chanstatd failed");
        if (n > 0)
            strbuf_consume(&out, (size_t)n);
        any = true;
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n;
        if (incap - nin < 65536) {
            incap = incap ? 2 * incap : 1 << 20;
            in = xrealloc(in, incap);
        }
        n = recv(b->fd, in + nin, incap - nin, MSG_DONTWAIT);
        if (n == 0) {
            fprintf(stderr, "bench: chanstatd closed the connection (log: %s)\n", b->log);
            exit(1);
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            fail("reading from chanstatd failed");
        if (n > 0) {
            nin += (size_t)n;
            last_read = bench_now();
            parse(last_read);
            any = true;
        }
    }
    return any;
}

/* Steps until done() holds; exits when chanstatd stays silent for
 * BENCH_READ_TIMEOUT_S. */
static void run_until(struct bench *b, bool (*done)(long), long n, const char *what)
{
    double since = bench_now();
    while (!done(n) || out.len > 0) {
        if (step(b, 100))
            since = bench_now();
        else if (bench_now() - since > BENCH_READ_TIMEOUT_S) {
            fprintf(stderr,
                    "bench: waiting for %s: nothing for %d s (presences %ld+%ld, events %ld, "
                    "disco %ld; log: %s)\n",
                    what, BENCH_READ_TIMEOUT_S, t.pres_w, t.pres_n, t.ev_w, t.disco, b->log);
            exit(1);
        }
    }
}

/* Steps until nothing came for QUIET_MS. */
static void drain(struct bench *b)
{
    double t0 = bench_now();
    while (bench_now() - t0 < QUIET_MS / 1000.0)
        if (step(b, 10))
            t0 = bench_now();
}

static bool got_probe(long n)
{
    return t.probes >= n;
}

static bool got_presences(long n)
{
    return t.pres_w >= n && t.pres_n >= n;
}

static bool got_events(long n)
{
    return t.ev_w >= n;
}

static bool got_change(long n)
{
    return t.pres_w >= n && t.pres_n >= n && t.ev_w >= n;
}

static void reset(void)
{
    memset(&t, 0, sizeof(t));
}

/* The directed presence of watcher i's resource: with caps, or without. */
static void queue_presence(long i, bool notify)
{
    if (notify)
        strbuf_printf(&out,
                      "<presence from='w%ld@b.bench/r' to='" CHAN "'><c xmlns='"
                      "http://jabber.org/protocol/caps' hash='sha-1' node='" CAPS_NODE
                      "' ver='%s'/></presence>",
                      i, ver[i % NOTIFY_VERS]);
    else if (i % 2)
        strbuf_printf(&out,
                      "<presence from='n%ld@b.bench/r' to='" CHAN "'><c xmlns='"
                      "http://jabber.org/protocol/caps' hash='sha-1' node='" CAPS_NODE
                      "' ver='%s'/></presence>",
                      i, ver[NOTIFY_VERS]);
    else
        strbuf_printf(&out, "<presence from='n%ld@b.bench/r' to='" CHAN "'/>", i);
}

static void make_features(void)
{
    for (int k = 0; k < NVERS; k++) {
        struct strbuf q = {0};
        struct xml_node *x;
        snprintf(features[k], sizeof(features[k]),
                 "<identity category='client' type='pc' name='Bench %d'/>"
                 "<feature var='http://jabber.org/protocol/caps'/>"
                 "<feature var='" NS_DISCO_INFO "'/>"
                 "<feature var='urn:xmpp:avatar:metadata%s'/>"
                 "<feature var='%s'/>",
                 k, k < NOTIFY_VERS ? "+notify" : "", extra_feature[k]);
        strbuf_printf(&q, "<query xmlns='" NS_DISCO_INFO "'>%s</query>", features[k]);
        x = xml_parse_one(q.data, q.len);
        if (x == NULL || capsver_sha1(x, ver[k]) != 0)
            fail("computing a 'ver'");
        xml_free(x);
        strbuf_free(&q);
    }
}

/* An avatar of bytes bytes: the PNG signature, then fill. */
static unsigned char *make_avatar(size_t bytes, unsigned char fill)
{
    static const unsigned char sig[8] = {0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a};
    unsigned char *a = xmalloc(bytes);
    memset(a, fill, bytes);
    memcpy(a, sig, sizeof(sig));
    return a;
}

static void set_avatar(sqlite3 *db, const unsigned char *a, size_t bytes)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "UPDATE channel SET avatar = ?, avatar_type = 'image/png' "
                           "WHERE name = 'ch'",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_blob(st, 1, a, (int)bytes, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(db) != 1) {
        fprintf(stderr, "bench: setting the avatar: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_finalize(st);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* n per s as text ("-" when s is too short to time). */
static const char *rate(double n, double s, char buf[32])
{
    if (s < 1e-4)
        snprintf(buf, 32, "-");
    else
        snprintf(buf, 32, "%.0f", n / s);
    return buf;
}

static double median(double *v, long n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    const char *chanstatd = argc > 1 ? argv[1] : "src/chanstatd";
    long watchers = argc > 2 ? atol(argv[2]) : 10000;
    long rounds = argc > 3 ? atol(argv[3]) : 20;
    long bytes = argc > 4 ? atol(argv[4]) : 4096;
    double wall[MAX_ROUNDS], delay[MAX_ROUNDS], burst[MAX_ROUNDS], cpu_sum = 0;
    double pres_t[MAX_ROUNDS], ev_t[MAX_ROUNDS];
    long stale = 0, to_plain = 0, rss_max = 0, other = 0;
    unsigned char *avatar[2];
    char hash[2][41], q[256];
    struct bench b;
    sqlite3 *db;

    if (watchers < 1 || rounds < 1 || rounds > MAX_ROUNDS || bytes < 8 || bytes > 65536)
        fail("usage: bench_pep CHANSTATD [WATCHERS [ROUNDS (1-101) [AVATAR_BYTES (8-65536)]]]");
    make_features();
    for (int k = 0; k < 2; k++) {
        avatar[k] = make_avatar((size_t)bytes, k ? 'b' : 'a');
        cs_sha1_hex(avatar[k], (size_t)bytes, hash[k]);
    }

    bench_init(&b, chanstatd, "[storage]\nsynchronous = normal\n");
    db = bench_db(&b);
    sqlite3_busy_timeout(db, 10000); /* chanstatd writes too (stats, once a second) */
    bench_sql(db, "BEGIN");
    bench_sql(db, "INSERT INTO channel (name, owner) VALUES ('ch', 'owner@a.bench')");
    bench_sql(
        db, "INSERT INTO roster (channel, jid, subscription) VALUES ('ch', 'owner@a.bench', 'to')");
    for (long i = 0; i < 2 * watchers; i++) {
        snprintf(q, sizeof(q),
                 "INSERT INTO roster (channel, jid, subscription) VALUES ('ch', '%c%ld@b.bench', "
                 "'from')",
                 i < watchers ? 'w' : 'n', i % watchers);
        bench_sql(db, q);
    }
    set_avatar(db, avatar[0], (size_t)bytes);
    bench_sql(db, "COMMIT");

    /* Nothing of benchlib's reading is used after the handshake: its
     * buffer is empty then, and everything later is read here. */
    bench_start(&b, chanstatd);
    double online = bench_now();
    memcpy(want_hash, hash[0], sizeof(want_hash));
    run_until(&b, got_probe, 1, "the owner's probe");
    /* The owner's presence loads the channel and goes to every watcher;
     * then past the resync after the handshake (as bench_fanout). */
    strbuf_append_str(&out, "<presence from='owner@a.bench/r' to='" CHAN "'/>");
    run_until(&b, got_presences, watchers, "the owner's presence");
    while (bench_now() - online < 2.5)
        step(&b, 10);
    drain(&b);
    long rss0 = bench_rss_kib(&b);

    /* Every watcher's resource announces itself: one disco#info per 'ver'
     * and the current metadata item to each +notify resource. */
    reset();
    double cpu0 = bench_cpu(&b), t0 = bench_now();
    for (long i = 0; i < watchers; i++) {
        queue_presence(i, true);
        queue_presence(i, false);
        if (out.len > 1 << 16)
            while (out.len > 1 << 15)
                step(&b, 100);
    }
    run_until(&b, got_events, watchers, "the current items");
    double t_items = t.ev_last - t0, cpu_items = bench_cpu(&b) - cpu0;
    drain(&b);
    long disco = t.disco, distinct = 0;
    for (int k = 0; k < NVERS; k++)
        distinct += asked[k] > 0;
    printf("pep: %ld watchers with +notify (%d 'ver's), %ld without (half no caps, half one "
           "'ver' without +notify), avatar %ld bytes\n",
           watchers, NOTIFY_VERS, watchers, bytes);
    printf("caps: %ld resources' presences -> %ld disco#info gets for %ld distinct 'ver's "
           "(%d announced), %ld current items in %.3f s (chanstatd CPU %.3f s), %ld events to "
           "watchers without +notify\n",
           2 * watchers, disco, distinct, NVERS, t.ev_w, t_items, cpu_items, t.ev_n);
    to_plain += t.ev_n;
    stale += t.ev_stale;
    other += t.other;

    /* The measured changes. */
    for (long r = 0; r < rounds; r++) {
        int k = (int)((r + 1) % 2);
        /* The change log is read on chanstatd's tick: commits at varied
         * offsets from it, not locked to one phase by the rounds' rhythm. */
        double pause = bench_now() + (double)(r * 97 % 250) / 1000.0;
        while (bench_now() < pause)
            step(&b, 10);
        reset();
        memcpy(want_hash, hash[k], sizeof(want_hash));
        cpu0 = bench_cpu(&b);
        set_avatar(db, avatar[k], (size_t)bytes);
        t0 = bench_now();
        run_until(&b, got_change, watchers, "the change's presences and events");
        double cpu = bench_cpu(&b) - cpu0;
        cpu_sum += cpu;
        wall[r] = t.last - t0;
        delay[r] = t.first - t0;
        burst[r] = t.last - t.first;
        pres_t[r] = t.pres_last - t.pres_first;
        ev_t[r] = t.ev_last - t.ev_first;
        /* Anything late (to watchers without +notify, say) comes now. */
        drain(&b);
        long rss = bench_rss_kib(&b);
        if (rss > rss_max)
            rss_max = rss;
        if (getenv("BENCH_VERBOSE"))
            fprintf(stderr,
                    "round %ld: wall %.3f delay %.3f burst %.3f (presences %.3f events %.3f) cpu "
                    "%.3f; %ld+%ld presences, %ld events, %ld to non-notify, %ld stale, %ld "
                    "other\n",
                    r, wall[r], delay[r], burst[r], pres_t[r], ev_t[r], cpu, t.pres_w, t.pres_n,
                    t.ev_w, t.ev_n, t.pres_stale + t.ev_stale, t.other);
        to_plain += t.ev_n;
        stale += t.pres_stale + t.ev_stale;
        other += t.other;
    }

    double mw = median(wall, rounds), md = median(delay, rounds), mb = median(burst, rounds);
    double mc = cpu_sum / (double)rounds, mp = median(pres_t, rounds), me = median(ev_t, rounds);
    long per = 3 * watchers;
    printf("avatar change x %ld (medians): %ld presences + %ld events per change, %ld events to "
           "watchers without +notify\n",
           rounds, 2 * watchers, watchers, to_plain);
    char r1[32], r2[32], r3[32], r4[32], r5[32];
    printf("commit to last stanza %.3f s (change-log poll %.3f s of it): %s stanzas/s\n", mw, md,
           rate((double)per, mw, r1));
    printf("first to last stanza %.3f s: %s stanzas/s; presences %.3f s: %s/s; events %.3f s: "
           "%s/s\n",
           mb, rate((double)per, mb, r2), mp, rate((double)(2 * watchers), mp, r3), me,
           rate((double)watchers, me, r4));
    printf("chanstatd CPU %.3f s per change (mean of %ld): %.3f us/stanza, %s stanzas per "
           "CPU-second\n",
           mc, rounds, mc * 1e6 / (double)per, rate((double)per, mc, r5));
    printf("chanstatd RSS %ld KiB before the resources, %ld KiB after the changes, with %ld "
           "watchers\n",
           rss0, rss_max, 2 * watchers);
    if (other || stale)
        printf("also seen: %ld stale, %ld other stanzas\n", stale, other);
    sqlite3_close(db);
    bench_finish(&b);
    free(avatar[0]);
    free(avatar[1]);
    free(in);
    strbuf_free(&out);
    if (to_plain) {
        fprintf(stderr, "bench: %ld events reached watchers without +notify\n", to_plain);
        return 1;
    }
    if (disco != NVERS || distinct != NVERS) {
        fprintf(stderr, "bench: %ld disco#info gets for %ld distinct 'ver's (%d announced)\n",
                disco, distinct, NVERS);
        return 1;
    }
    if (stale) {
        fprintf(stderr, "bench: %ld stanzas carried a stale hash\n", stale);
        return 1;
    }
    return 0;
}
