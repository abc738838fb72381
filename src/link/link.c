/* link.c - the XEP-0114 component link on expat + OpenSSL's SHA-1.
 *
 * State machine:
 *   IDLE -> CONNECTING (non-blocking connect) -> STREAM (header sent,
 *   waiting for the server's header and id) -> HANDSHAKE (digest sent) ->
 *   ONLINE.  Any loss goes to WAIT (reconnect timer), from where the cycle
 *   starts again.  link_shutdown() goes ONLINE -> CLOSING -> CLOSED.
 *
 * Everything the parser calls back into happens inside xml_parser_feed();
 * a failure detected there (stream error, full output buffer) is recorded
 * in fail_reason and acted upon once feed returns, so the parser is never
 * reset under its own feet. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_link.h"
#include "cs_log.h"
#include "cs_loop.h"
#include "cs_util.h"

#define READ_CHUNK 65536
#define READS_PER_WAKEUP 16
#define CLOSE_WAIT_MS 2000
/* A connection that stayed online this long was stable: its loss starts
 * the reconnect backoff afresh. */
#define STABLE_ONLINE_MS 10000
/* Failed attempts counted for the backoff; the delay is capped at
 * reconnect_max_ms long before. */
#define MAX_ATTEMPTS 32
/* Hex SHA-1 of the handshake, with its NUL. */
#define DIGEST_HEX_SIZE 41
/* Checks of the oldest pending output per stall_timeout. */
#define STALL_TICKS 8
/* Our end of the stream. */
static const char stream_close[] = "</stream:stream>";

enum link_state {
    LINK_IDLE,
    LINK_WAIT,
    LINK_CONNECTING,
    LINK_STREAM,
    LINK_HANDSHAKE,
    LINK_ONLINE,
    LINK_CLOSING,
    LINK_CLOSED,
};

struct link {
    struct loop *loop;
    const struct config *cfg;
    const struct link_handlers *h;
    void *ud;

    enum link_state state;
    int fd;
    uint32_t events; /* what the loop watches for fd */
    struct xml_parser *parser;
    struct addrinfo *addrs, *addr_next;

    struct strbuf out;
    size_t out_off;
    size_t budget; /* send_buffer_bytes: producers pause, input pauses above */
    bool read_paused;
    /* Not reading: the oldest byte still pending was queued more than
     * stall_timeout ago.  marks[] notes, every stall_timeout / STALL_TICKS,
     * where the queued output ended and when (oldest first), so a server
     * that takes a trickle without catching up is found too. */
    struct stall_mark {
        unsigned long long end; /* bytes queued (written + pending) at .at */
        int64_t at;             /* ms */
    } marks[STALL_TICKS + 2];
    unsigned mark_first, mark_n;
    struct loop_timer *stall_timer; /* runs while output is pending */

    struct loop_timer *timer;    /* reconnect, connect timeout or close wait */
    struct loop_timer *ka_timer; /* whitespace keepalive */
    unsigned attempt;
    int64_t online_since;
    bool shutting_down;

    bool in_feed;
    char *fail_reason;  /* set inside a feed; acted upon afterwards */
    bool fail_is_input; /* the failure was bad input from the server */

    struct link_stats stats;
};

static const struct xml_parser_handlers parser_handlers;
static void start_connect(struct link *link);
static void drop(struct link *link, const char *reason);

int64_t link_backoff_ms(int64_t min_ms, int64_t max_ms, unsigned attempt)
{
    int64_t d = min_ms;
    for (unsigned i = 0; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    return d / 2 + cs_random_below((uint32_t)(d - d / 2) + 1);
}

struct link *link_new(struct loop *loop, const struct config *cfg,
                      const struct link_handlers *handlers, void *ud)
{
    struct link *link = xcalloc(1, sizeof(*link));
    link->loop = loop;
    link->cfg = cfg;
    link->h = handlers;
    link->ud = ud;
    link->fd = -1;
    link->parser = xml_parser_new((size_t)cfg->max_stanza_bytes, (unsigned)cfg->max_depth,
                                  &parser_handlers, link);
    link->budget = (size_t)cfg->send_buffer_bytes;
    return link;
}

static void close_socket(struct link *link)
{
    if (link->fd >= 0) {
        loop_del_fd(link->loop, link->fd);
        close(link->fd);
        link->fd = -1;
    }
    link->events = 0;
    link->out.len = 0;
    link->out_off = 0;
    link->read_paused = false;
    loop_timer_cancel(link->loop, &link->timer);
    loop_timer_cancel(link->loop, &link->ka_timer);
    loop_timer_cancel(link->loop, &link->stall_timer);
    if (link->addrs) {
        freeaddrinfo(link->addrs);
        link->addrs = link->addr_next = NULL;
    }
    xml_parser_reset(link->parser);
}

void link_free(struct link **lp)
{
    struct link *link = *lp;
    if (link == NULL)
        return;
    close_socket(link);
    xml_parser_free(&link->parser);
    strbuf_free(&link->out);
    free(link->fail_reason);
    free(link);
    *lp = NULL;
}

bool link_online(const struct link *link)
{
    return link->state == LINK_ONLINE;
}

const struct link_stats *link_stats(const struct link *link)
{
    return &link->stats;
}

static size_t pending(const struct link *link)
{
    return link->out.len - link->out_off;
}

static void update_events(struct link *link)
{
    uint32_t ev = 0;
    if (link->fd < 0)
        return;
    if (link->state == LINK_CONNECTING) {
        ev = EPOLLOUT;
    } else {
        if (!link->read_paused)
            ev |= EPOLLIN;
        if (pending(link) > 0)
            ev |= EPOLLOUT;
    }
    if (ev != link->events) {
        if (loop_mod_fd(link->loop, link->fd, ev) != 0)
            log_error("link: epoll_ctl failed: %s", strerror(errno));
        link->events = ev;
    }
}

/* Writes what the socket takes now.  Returns 0 or CS_EIO/CS_ECLOSED. */
static int flush(struct link *link)
{
    bool was_high = pending(link) > link->budget / 2;
    while (pending(link) > 0) {
        ssize_t n = send(link->fd, link->out.data + link->out_off, pending(link), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return CS_EIO;
        }
        link->out_off += (size_t)n;
        link->stats.bytes_out += (unsigned long long)n;
    }
    if (pending(link) == 0) {
        bool wrote = link->out.len > 0;
        link->out.len = link->out_off = 0;
        if (wrote && link->state == LINK_ONLINE && link->h->drained)
            link->h->drained(link, link->ud);
    } else {
        if (link->out_off > link->out.len / 2) {
            strbuf_consume(&link->out, link->out_off);
            link->out_off = 0;
        }
        if (was_high && pending(link) <= link->budget / 2 && link->state == LINK_ONLINE &&
            link->h->writable)
            link->h->writable(link, link->ud);
    }
    if (link->read_paused && pending(link) <= link->budget / 2) {
        link->read_paused = false;
        log_debug("link: output drained to %zu bytes; reading again", pending(link));
    }
    update_events(link);
    return 0;
}

/* Records a failure; acted upon now, or after the current feed. */
static void fail(struct link *link, bool input, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct link *link, bool input, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (link->in_feed) {
        if (link->fail_reason == NULL) {
            link->fail_reason = xstrdup(buf);
            link->fail_is_input = input;
        }
        xml_parser_stop(link->parser);
        return;
    }
    drop(link, buf);
}

static int64_t stall_tick(int64_t limit)
{
    return limit / STALL_TICKS > 0 ? limit / STALL_TICKS : 1;
}

/* Notes that everything queued so far was queued by now. */
static void stall_mark(struct link *link, int64_t now)
{
    unsigned long long end = link->stats.bytes_out + pending(link);
    unsigned cap = (unsigned)(sizeof(link->marks) / sizeof(link->marks[0]));
    if (link->mark_n > 0 && link->marks[(link->mark_first + link->mark_n - 1) % cap].end >= end)
        return; /* nothing new since the last mark */
    if (link->mark_n == cap)
        return; /* the oldest mark decides; the newer bytes wait for a slot */
    link->marks[(link->mark_first + link->mark_n) % cap] = (struct stall_mark){end, now};
    link->mark_n++;
}

/* The server is "not reading" when output queued stall_timeout ago is
 * still not written: it takes less than send_buffer_bytes per
 * stall_timeout, or nothing.  A full buffer alone is no reason to drop. */
static void on_stall_check(struct loop *loop, void *ud)
{
    struct link *link = ud;
    int64_t limit = link->cfg->stall_timeout_ms;
    int64_t now = cs_now_ms();
    unsigned cap = (unsigned)(sizeof(link->marks) / sizeof(link->marks[0]));
    link->stall_timer = NULL;
    if (pending(link) == 0 || link->fd < 0) {
        link->mark_n = 0;
        return;
    }
    while (link->mark_n > 0 && link->marks[link->mark_first].end <= link->stats.bytes_out) {
        link->mark_first = (link->mark_first + 1) % cap;
        link->mark_n--;
    }
    if (link->mark_n > 0 && now - link->marks[link->mark_first].at >= limit) {
        drop(link, "server not reading: output queued stall_timeout seconds ago is not "
                   "written yet");
        return;
    }
    stall_mark(link, now);
    link->stall_timer = loop_timer_add(loop, stall_tick(limit), on_stall_check, link);
}

/* Appends to the output buffer.  Never refuses: producers keep within
 * link_room(), and input pauses above the budget, which bounds the rest. */
static int queue(struct link *link, const char *data, size_t len)
{
    bool was_empty = pending(link) == 0;
    strbuf_append(&link->out, data, len);
    if (was_empty && link->cfg->stall_timeout_ms > 0) {
        link->mark_n = 0;
        stall_mark(link, cs_now_ms());
        if (link->stall_timer == NULL)
            link->stall_timer = loop_timer_add(link->loop, stall_tick(link->cfg->stall_timeout_ms),
                                               on_stall_check, link);
    }
    if (pending(link) > link->budget && !link->read_paused) {
        link->read_paused = true;
        log_debug("link: %zu bytes pending output; pausing input", pending(link));
    }
    /* Written when the loop reports the socket writable: one send() for
     * everything queued during this wakeup. */
    update_events(link);
    return 0;
}

int link_send_raw(struct link *link, const char *data, size_t len)
{
    if (link->state != LINK_ONLINE || link->fail_reason) {
        log_debug("link: not online; not sending %zu bytes", len);
        return CS_ENOTCONN;
    }
    if (log_enabled(LOG_LEVEL_DEBUG))
        log_debug("link: out: %.*s", (int)len, data);
    queue(link, data, len);
    return 0;
}

size_t link_room(const struct link *link)
{
    if (link->state != LINK_ONLINE || link->fail_reason || pending(link) >= link->budget)
        return 0;
    return link->budget - pending(link);
}

size_t link_mark(const struct link *link)
{
    return link->out.len;
}

void link_splice(struct link *link, size_t from, size_t to, const char *repl, size_t len)
{
    struct strbuf sb = {0};
    if (from < link->out_off || to > link->out.len || from > to)
        return; /* already written, or not ours: nothing to take back */
    strbuf_append(&sb, link->out.data + to, link->out.len - to);
    link->out.len = from;
    if (log_enabled(LOG_LEVEL_DEBUG) && len > 0)
        log_debug("link: out (instead of %zu bytes): %.*s", to - from, (int)len, repl);
    /* Through queue(): output where there was none must arm the socket
     * for writing (and the stall timer), or it waits for the next. */
    queue(link, repl, len);
    strbuf_append(&link->out, sb.data ? sb.data : "", sb.len);
    strbuf_free(&sb);
    update_events(link);
}

int link_send(struct link *link, const struct xml_node *stanza)
{
    struct strbuf sb = {0};
    int r;
    if (link->state != LINK_ONLINE || link->fail_reason)
        return CS_ENOTCONN;
    xml_serialize(stanza, XML_NS_COMPONENT, &sb);
    r = link_send_raw(link, sb.data, sb.len);
    strbuf_free(&sb);
    return r;
}

static void on_reconnect_timer(struct loop *loop, void *ud)
{
    struct link *link = ud;
    link->timer = NULL;
    start_connect(link);
}

static void finish_close(struct link *link)
{
    close_socket(link);
    link->state = LINK_CLOSED;
    log_info("link: closed");
    if (link->h->closed)
        link->h->closed(link, link->ud);
}

/* Tears the connection down and schedules a reconnect. */
static void drop(struct link *link, const char *reason)
{
    bool was_online = link->state == LINK_ONLINE;
    int64_t delay;

    if (link->state == LINK_CLOSING || link->shutting_down) {
        finish_close(link);
        return;
    }
    if (was_online && cs_now_ms() - link->online_since > STABLE_ONLINE_MS)
        link->attempt = 0; /* it was stable: start the backoff afresh */
    close_socket(link);
    delay =
        link_backoff_ms(link->cfg->reconnect_min_ms, link->cfg->reconnect_max_ms, link->attempt);
    if (link->attempt < MAX_ATTEMPTS)
        link->attempt++;
    link->state = LINK_WAIT;
    log_warning("link: connection lost: %s; reconnecting in %" PRId64 " ms", reason, delay);
    link->timer = loop_timer_add(link->loop, delay, on_reconnect_timer, link);
    if (was_online && link->h->offline)
        link->h->offline(link, link->ud);
}

/* Best-effort stream error to the server before we drop the connection. */
static void send_stream_error(struct link *link, const char *condition)
{
    char buf[256];
    int n = snprintf(
        buf, sizeof(buf),
        "<stream:error><%s xmlns='" XML_NS_STREAMS "'/></stream:error></stream:stream>", condition);
    if (link->fd >= 0 && n > 0)
        (void)!send(link->fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void on_keepalive(struct loop *loop, void *ud)
{
    struct link *link = ud;
    link->ka_timer = NULL;
    if (link->state != LINK_ONLINE)
        return;
    /* Whitespace keepalive (RFC 6120 4.6.1) only when the link is idle. */
    if (pending(link) == 0)
        queue(link, " ", 1);
    if (link->state == LINK_ONLINE)
        link->ka_timer = loop_timer_add(loop, link->cfg->keepalive_ms, on_keepalive, link);
}

static void go_online(struct link *link)
{
    loop_timer_cancel(link->loop, &link->timer);
    link->state = LINK_ONLINE;
    link->online_since = cs_now_ms();
    link->stats.connects++;
    log_info("link: online as %s", link->cfg->domain);
    if (link->cfg->keepalive_ms > 0)
        link->ka_timer = loop_timer_add(link->loop, link->cfg->keepalive_ms, on_keepalive, link);
    if (link->h->online)
        link->h->online(link, link->ud);
}

/* ---- Parser callbacks (inside xml_parser_feed) ---- */

/* XEP-0114 section 3: the server accepts with an empty <handshake/>
 * (whitespace aside); anything inside is not an acceptance. */
static bool handshake_empty(const struct xml_node *hs)
{
    for (const struct xml_node *c = hs->first_child; c; c = c->next) {
        if (c->type != XML_TEXT || strspn(c->text, " \t\r\n") != c->text_len)
            return false;
    }
    return true;
}

static void on_stream_start(void *ud, const struct xml_node *root)
{
    struct link *link = ud;
    const char *id = xml_attr(root, "id");
    struct strbuf sb = {0};
    char digest[DIGEST_HEX_SIZE];

    if (strcmp(root->name, "stream") != 0 || root->ns == NULL ||
        strcmp(root->ns, XML_NS_STREAM) != 0) {
        fail(link, true, "server sent <%s/> instead of a stream header", root->name);
        return;
    }
    if (link->state != LINK_STREAM) {
        fail(link, true, "unexpected stream header");
        return;
    }
    if (id == NULL || *id == '\0') {
        /* Prosody refuses an unknown component with an empty id followed
         * by the stream error: wait for what comes next (on_stanza). */
        log_debug("link: server stream header has no id");
        return;
    }
    /* XEP-0114 section 3: hex SHA-1 of the stream id followed by the secret. */
    strbuf_printf(&sb, "%s%s", id, link->cfg->secret);
    cs_sha1_hex(sb.data, sb.len, digest);
    strbuf_free(&sb);
    strbuf_printf(&sb, "<handshake>%s</handshake>", digest);
    link->state = LINK_HANDSHAKE;
    queue(link, sb.data, sb.len);
    strbuf_free(&sb);
}

static void stream_error(struct link *link, const struct xml_node *err)
{
    const char *cond = "undefined-condition";
    char *text = NULL;
    for (struct xml_node *c = xml_first_elem(err); c; c = xml_next_elem(c)) {
        const char *ns = xml_ns(c);
        if (ns == NULL || strcmp(ns, XML_NS_STREAMS) != 0)
            continue;
        if (strcmp(c->name, "text") == 0)
            text = xml_text_dup(c);
        else
            cond = c->name;
    }
    log_error("link: stream error from server: %s%s%s%s", cond, text ? " (" : "", text ? text : "",
              text ? ")" : "");
    fail(link, false, "stream error %s", cond);
    free(text);
}

static void on_stanza(void *ud, struct xml_node *stanza)
{
    struct link *link = ud;
    const char *ns = xml_ns(stanza);

    if (link->fail_reason)
        return;
    if (ns && strcmp(ns, XML_NS_STREAM) == 0 && strcmp(stanza->name, "error") == 0) {
        stream_error(link, stanza);
        return;
    }
    if (link->state == LINK_HANDSHAKE) {
        if (strcmp(stanza->name, "handshake") == 0 && handshake_empty(stanza)) {
            go_online(link);
            return;
        }
        if (strcmp(stanza->name, "handshake") == 0) {
            /* XEP-0114 section 3: success is an EMPTY handshake element. */
            fail(link, true, "server answered the handshake with content");
            return;
        }
        fail(link, true, "server sent <%s/> before accepting the handshake", stanza->name);
        return;
    }
    if (link->state == LINK_CLOSING)
        return; /* we are leaving; the server's late stanzas bounce */
    if (link->state == LINK_STREAM) {
        fail(link, true, "server stream header had no id");
        return;
    }
    if (link->state != LINK_ONLINE) {
        fail(link, true, "server sent <%s/> before the handshake", stanza->name);
        return;
    }
    if (link->h->stanza)
        link->h->stanza(link, stanza, link->ud);
}

static void on_stream_end(void *ud)
{
    struct link *link = ud;
    if (link->state == LINK_CLOSING) {
        xml_parser_stop(link->parser);
        return;
    }
    fail(link, false, "server closed the stream");
}

static const struct xml_parser_handlers parser_handlers = {
    .stream_start = on_stream_start,
    .stanza = on_stanza,
    .stream_end = on_stream_end,
};

/* ---- Socket events ---- */

static void handle_feed_result(struct link *link, int r)
{
    if (link->fail_reason) {
        char *reason = link->fail_reason;
        link->fail_reason = NULL;
        if (link->fail_is_input) {
            link->stats.input_rejects++;
            send_stream_error(link, "invalid-xml");
        }
        drop(link, reason);
        free(reason);
        return;
    }
    if (r == CS_ECLOSED && link->state == LINK_CLOSING) {
        finish_close(link);
        return;
    }
    if (r == CS_EPROTO || r == CS_ELIMIT) {
        enum xml_violation v = xml_parser_violation(link->parser);
        char reason[256];
        link->stats.input_rejects++;
        log_error("link: input rejected: %s; restarting stream", xml_parser_error(link->parser));
        send_stream_error(link, v == XML_VIOLATION_SIZE     ? "policy-violation"
                                : v == XML_VIOLATION_DEPTH  ? "policy-violation"
                                : v == XML_VIOLATION_SYNTAX ? "not-well-formed"
                                                            : "restricted-xml");
        snprintf(reason, sizeof(reason), "bad input (%s)", xml_parser_error(link->parser));
        drop(link, reason);
    }
}

static void on_readable(struct link *link)
{
    char buf[READ_CHUNK];
    for (int i = 0; i < READS_PER_WAKEUP && link->fd >= 0 && !link->read_paused; i++) {
        ssize_t n = recv(link->fd, buf, sizeof(buf), 0);
        int r;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (link->state == LINK_CLOSING) {
                finish_close(link);
                return;
            }
            fail(link, false, "read error: %s", strerror(errno));
            return;
        }
        if (n == 0) {
            if (link->state == LINK_CLOSING)
                finish_close(link);
            else
                fail(link, false, "server closed the connection");
            return;
        }
        link->stats.bytes_in += (unsigned long long)n;
        if (log_enabled(LOG_LEVEL_DEBUG))
            log_debug("link: in: %.*s", (int)n, buf);
        link->in_feed = true;
        r = xml_parser_feed(link->parser, buf, (size_t)n);
        link->in_feed = false;
        handle_feed_result(link, r);
        if (r != 0)
            return;
        if (link->h->batch_end && link->fd >= 0)
            link->h->batch_end(link, link->ud);
    }
}

static void on_connected(struct link *link)
{
    int err = 0;
    socklen_t len = sizeof(err);
    struct strbuf sb = {0};

    if (getsockopt(link->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0) {
        log_info("link: connect to %s:%d failed: %s", link->cfg->server, link->cfg->port,
                 strerror(err));
        loop_del_fd(link->loop, link->fd);
        close(link->fd);
        link->fd = -1;
        start_connect(link); /* next address, or a scheduled retry */
        return;
    }
    link->state = LINK_STREAM;
    strbuf_printf(&sb,
                  "<?xml version='1.0'?><stream:stream xmlns='" XML_NS_COMPONENT
                  "' xmlns:stream='" XML_NS_STREAM "' to='%s'>",
                  link->cfg->domain);
    queue(link, sb.data, sb.len);
    strbuf_free(&sb);
}

static void on_io(struct loop *loop, int fd, uint32_t events, void *ud)
{
    struct link *link = ud;

    if (link->state == LINK_CONNECTING) {
        on_connected(link);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(link);
    if (link->fd == fd && (events & EPOLLOUT) && pending(link) > 0) {
        if (flush(link) != 0) {
            if (link->state == LINK_CLOSING)
                finish_close(link);
            else
                drop(link, strerror(errno));
            return;
        }
        if (link->state == LINK_CLOSING && pending(link) == 0)
            shutdown(link->fd, SHUT_WR);
    }
}

static void on_connect_timeout(struct loop *loop, void *ud)
{
    struct link *link = ud;
    link->timer = NULL;
    drop(link, link->state == LINK_CONNECTING ? "connect timed out" : "handshake timed out");
}

static void start_connect(struct link *link)
{
    char port[16];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};

    if (link->addrs == NULL) {
        int r;
        snprintf(port, sizeof(port), "%d", link->cfg->port);
        log_info("link: connecting to %s:%d", link->cfg->server, link->cfg->port);
        /* Resolution is synchronous: the server is normally loopback or a
         * private address; see doc/internals-link.md. */
        r = getaddrinfo(link->cfg->server, port, &hints, &link->addrs);
        if (r != 0) {
            link->addrs = NULL;
            drop(link, gai_strerror(r));
            return;
        }
        link->addr_next = link->addrs;
        link->state = LINK_CONNECTING;
        link->timer =
            loop_timer_add(link->loop, link->cfg->connect_timeout_ms, on_connect_timeout, link);
    }
    while (link->addr_next) {
        struct addrinfo *ai = link->addr_next;
        int fd;
        link->addr_next = ai->ai_next;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            log_info("link: connect to %s:%d failed: %s", link->cfg->server, link->cfg->port,
                     strerror(errno));
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        /* Each wakeup writes what it has in one send(): no need for
         * Nagle's delay, which would hold a status change back. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (loop_add_fd(link->loop, fd, EPOLLOUT, on_io, link) != 0) {
            close(fd);
            drop(link, "cannot watch socket");
            return;
        }
        link->fd = fd;
        link->events = EPOLLOUT;
        link->state = LINK_CONNECTING;
        return;
    }
    drop(link, "no address of the server accepted the connection");
}

void link_start(struct link *link)
{
    if (link->state == LINK_IDLE)
        start_connect(link);
}

static void on_close_wait(struct loop *loop, void *ud)
{
    struct link *link = ud;
    link->timer = NULL;
    finish_close(link);
}

void link_shutdown(struct link *link)
{
    link->shutting_down = true;
    if (link->state != LINK_ONLINE || link->fd < 0) {
        finish_close(link);
        return;
    }
    loop_timer_cancel(link->loop, &link->ka_timer);
    queue(link, stream_close, sizeof(stream_close) - 1);
    link->state = LINK_CLOSING;
    link->read_paused = false;
    update_events(link);
    link->timer = loop_timer_add(link->loop, CLOSE_WAIT_MS, on_close_wait, link);
}
