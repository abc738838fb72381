/* check_link.c - the component link against an in-process fake server:
 * handshake, stanzas both ways, stream errors, restricted XML and limits,
 * reconnect, back-pressure cap, clean shutdown. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_link.h"
#include "cs_log.h"
#include "cs_loop.h"
#include "cs_util.h"
#include "testutil.h"

#define SECRET "sekrit"
#define DOMAIN "status.test"

struct fixture {
    struct config cfg;
    struct loop *loop;
    struct link *link;
    int lfd; /* fake server listener */
    int sfd; /* fake server's accepted connection */
    int online, offline, closed;
    struct strbuf got; /* serialised stanzas the link delivered */
};

static struct fixture F;

static void h_online(struct link *l, void *ud)
{
    F.online++;
}
static void h_offline(struct link *l, void *ud)
{
    F.offline++;
}
static void h_stanza(struct link *l, struct xml_node *st, void *ud)
{
    xml_serialize(st, XML_NS_COMPONENT, &F.got);
}
static void h_closed(struct link *l, void *ud)
{
    F.closed++;
}
static const struct link_handlers H = {
    .online = h_online, .offline = h_offline, .stanza = h_stanza, .closed = h_closed};

static void setup(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);

    memset(&F, 0, sizeof(F));
    log_init(LOG_LEVEL_ERROR, false, "check_link");
    F.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(F.lfd, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(F.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(F.lfd, 8), 0);
    ck_assert_int_eq(getsockname(F.lfd, (struct sockaddr *)&sa, &len), 0);
    F.sfd = -1;

    config_defaults(&F.cfg);
    F.cfg.domain = xstrdup(DOMAIN);
    F.cfg.secret = xstrdup(SECRET);
    free(F.cfg.server);
    F.cfg.server = xstrdup("127.0.0.1");
    F.cfg.port = ntohs(sa.sin_port);
    F.cfg.reconnect_min_ms = 20;
    F.cfg.reconnect_max_ms = 40;
    F.cfg.max_stanza_bytes = 4096;
    F.cfg.max_depth = 8;
    F.cfg.send_buffer_bytes = 65536;
    F.loop = loop_new();
    ck_assert_ptr_nonnull(F.loop);
    F.link = link_new(F.loop, &F.cfg, &H, NULL);
}

static void teardown(void)
{
    link_free(&F.link);
    loop_free(&F.loop);
    config_deinit(&F.cfg);
    if (F.sfd >= 0)
        close(F.sfd);
    close(F.lfd);
    strbuf_free(&F.got);
}

/* Runs the loop until *flag >= want or 3 s pass. */
static void pump_until(int *flag, int want)
{
    int64_t end = cs_now_ms() + 3000;
    while (*flag < want && cs_now_ms() < end)
        loop_run_once(F.loop, 10);
    ck_assert_int_ge(*flag, want);
}

static void pump_ms(int ms)
{
    int64_t end = cs_now_ms() + ms;
    while (cs_now_ms() < end)
        loop_run_once(F.loop, 5);
}

/* Fake server: accept the link's next connection. */
static void srv_accept(void)
{
    int64_t end = cs_now_ms() + 3000;
    if (F.sfd >= 0)
        close(F.sfd);
    F.sfd = -1;
    while (F.sfd < 0 && cs_now_ms() < end) {
        loop_run_once(F.loop, 5);
        F.sfd = accept4(F.lfd, NULL, NULL, SOCK_NONBLOCK);
    }
    ck_assert_int_ge(F.sfd, 0);
}

/* Fake server: read until the accumulated input contains needle. */
static void srv_expect(struct strbuf *in, const char *needle)
{
    int64_t end = cs_now_ms() + 3000;
    char buf[4096];
    while ((in->data == NULL || strstr(in->data, needle) == NULL) && cs_now_ms() < end) {
        loop_run_once(F.loop, 5);
        ssize_t n = recv(F.sfd, buf, sizeof(buf), 0);
        if (n > 0)
            strbuf_append(in, buf, (size_t)n);
    }
    ck_assert_msg(in->data && strstr(in->data, needle), "server never got '%s' (got '%s')", needle,
                  in->data ? in->data : "");
}

static void srv_send(const char *s)
{
    ck_assert_int_eq(send(F.sfd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Fake server: a full XEP-0114 accept, checking the digest. */
static void srv_handshake(void)
{
    struct strbuf in = {0};
    char want[41], hs[64];
    srv_accept();
    srv_expect(&in, "to='" DOMAIN "'>");
    ck_assert_ptr_nonnull(strstr(in.data, "xmlns='jabber:component:accept'"));
    srv_send("<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
             "xmlns='jabber:component:accept' from='" DOMAIN "' id='3BF96D32'>");
    cs_sha1_hex("3BF96D32" SECRET, strlen("3BF96D32" SECRET), want);
    snprintf(hs, sizeof(hs), "<handshake>%s</handshake>", want);
    srv_expect(&in, hs);
    srv_send("<handshake/>");
    strbuf_free(&in);
}

/* Was the server's connection closed by the link? */
static bool srv_sees_close(void)
{
    int64_t end = cs_now_ms() + 3000;
    char buf[4096];
    while (cs_now_ms() < end) {
        loop_run_once(F.loop, 5);
        ssize_t n = recv(F.sfd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN))
            return true;
    }
    return false;
}

START_TEST(test_handshake_and_stanzas)
{
    struct strbuf in = {0};
    struct xml_node *reply;
    link_start(F.link);
    srv_handshake();
    pump_until(&F.online, 1);
    ck_assert(link_online(F.link));
    /* A stanza split over two writes arrives whole. */
    srv_send("<iq type='get' id='1' from='u@a.test/r' to='" DOMAIN "'><ping xml");
    pump_ms(20);
    ck_assert_uint_eq(F.got.len, 0);
    srv_send("ns='urn:xmpp:ping'/></iq> ");
    int64_t end = cs_now_ms() + 2000;
    while (F.got.len == 0 && cs_now_ms() < end)
        loop_run_once(F.loop, 5);
    ck_assert_str_eq(F.got.data, "<iq type='get' id='1' from='u@a.test/r' to='" DOMAIN
                                 "'><ping xmlns='urn:xmpp:ping'/></iq>");
    reply = xml_elem_new("iq", NULL);
    xml_set_attr(reply, "type", "result");
    xml_set_attr(reply, "id", "1");
    ck_assert_int_eq(link_send(F.link, reply), 0);
    xml_free(reply);
    srv_expect(&in, "<iq type='result' id='1'/>");
    ck_assert_uint_eq(link_stats(F.link)->connects, 1);
    ck_assert_uint_gt(link_stats(F.link)->bytes_in, 0);
    ck_assert_uint_gt(link_stats(F.link)->bytes_out, 0);
    strbuf_free(&in);
}
END_TEST

START_TEST(test_send_while_offline)
{
    struct xml_node *m = xml_elem_new("message", NULL);
    ck_assert_int_eq(link_send(F.link, m), CS_ENOTCONN);
    link_start(F.link);
    ck_assert_int_eq(link_send(F.link, m), CS_ENOTCONN);
    xml_free(m);
}
END_TEST

static void expect_reconnect_after(const char *bad, int rejects)
{
    link_start(F.link);
    srv_handshake();
    pump_until(&F.online, 1);
    srv_send(bad);
    ck_assert(srv_sees_close());
    ck_assert_int_eq(F.offline, 1);
    ck_assert_uint_eq(link_stats(F.link)->input_rejects, (unsigned)rejects);
    /* It comes back by itself. */
    srv_handshake();
    pump_until(&F.online, 2);
    ck_assert_uint_eq(link_stats(F.link)->connects, 2);
}

START_TEST(test_doctype_restarts_stream)
{
    expect_reconnect_after("<!DOCTYPE foo [<!ENTITY x 'y'>]>", 1);
}
END_TEST

START_TEST(test_garbage_restarts_stream)
{
    expect_reconnect_after("<message><a></b></message>", 1);
}
END_TEST

START_TEST(test_pi_restarts_stream)
{
    expect_reconnect_after("<?evil data?>", 1);
}
END_TEST

START_TEST(test_depth_restarts_stream)
{
    /* Deeper than max_depth only cuts the stanza (check_xml); as many
     * levels as max_stanza_bytes (4096) fail the stream. */
    struct strbuf bad = {0};
    strbuf_append_str(&bad, "<message>");
    for (int i = 0; i < 4100; i++)
        strbuf_append_str(&bad, "<a>");
    expect_reconnect_after(bad.data, 1);
    strbuf_free(&bad);
}
END_TEST

START_TEST(test_server_close_reconnects)
{
    expect_reconnect_after("</stream:stream>", 0);
}
END_TEST

START_TEST(test_oversize_bounded)
{
    /* 10 MB of body against a 4 KiB limit: the link must hang up long
     * before the server could write it all. */
    char chunk[8192];
    size_t written = 0;
    link_start(F.link);
    srv_handshake();
    pump_until(&F.online, 1);
    memset(chunk, 'x', sizeof(chunk));
    srv_send("<message from='u@a.test' to='" DOMAIN "'><body>");
    int64_t end = cs_now_ms() + 5000;
    while (written < 10000000 && cs_now_ms() < end) {
        ssize_t n = send(F.sfd, chunk, sizeof(chunk), MSG_NOSIGNAL);
        if (n > 0)
            written += (size_t)n;
        else if (errno == EPIPE || errno == ECONNRESET)
            break;
        loop_run_once(F.loop, 1);
    }
    ck_assert_msg(written < 10000000, "link read all %zu bytes", written);
    ck_assert_uint_eq(link_stats(F.link)->input_rejects, 1);
    ck_assert_uint_le(link_stats(F.link)->bytes_in, 4096 + 2 * 65536 + 1024);
    srv_handshake();
    pump_until(&F.online, 2);
}
END_TEST

static void expect_stream_error(const char *cond, const char *id)
{
    struct strbuf in = {0};
    char xml[256];
    link_start(F.link);
    srv_accept();
    srv_expect(&in, "to='" DOMAIN "'>");
    snprintf(xml, sizeof(xml),
             "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
             "xmlns='jabber:component:accept' id='%s'><stream:error><%s "
             "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>",
             id, cond);
    srv_send(xml);
    ck_assert(srv_sees_close());
    ck_assert_int_eq(F.online, 0);
    /* ...and retries. */
    srv_accept();
    strbuf_free(&in);
}

START_TEST(test_stream_errors_retry)
{
    expect_stream_error("not-authorized", "1");
}
END_TEST

START_TEST(test_host_unknown_after_empty_id)
{
    /* What Prosody sends for a component name it does not know. */
    expect_stream_error("host-unknown", "");
}
END_TEST

START_TEST(test_conflict_retry)
{
    expect_stream_error("conflict", "2");
}
END_TEST

/* A burst far larger than send_buffer_bytes is kept, not dropped: the
 * link stays up and the server gets every stanza. */
START_TEST(test_burst_over_budget_is_kept)
{
    static const char msg[] = "<message to='x@a.test'><body>0123456789012345678901234567890"
                              "123456789</body></message>";
    const int count = 20000; /* about 20 times the 64 KiB budget */
    struct strbuf in = {0};
    char buf[65536];
    unsigned got = 0;
    int64_t end;
    link_start(F.link);
    srv_handshake();
    pump_until(&F.online, 1);
    for (int i = 0; i < count; i++)
        ck_assert_int_eq(link_send_raw(F.link, msg, sizeof(msg) - 1), 0);
    ck_assert_uint_eq(link_room(F.link), 0); /* producers would pause here */
    ck_assert(link_online(F.link));
    end = cs_now_ms() + 5000;
    while (got < (unsigned)count && cs_now_ms() < end) {
        ssize_t n;
        loop_run_once(F.loop, 1);
        while ((n = recv(F.sfd, buf, sizeof(buf), 0)) > 0) {
            strbuf_append(&in, buf, (size_t)n);
            /* count complete stanzas, keep the tail */
            for (char *p = in.data; (p = strstr(p, "</message>")) != NULL; p += 10)
                got++;
            char *last = in.data;
            for (char *p = in.data; (p = strstr(p, "</message>")) != NULL; p += 10)
                last = p + 10;
            strbuf_consume(&in, (size_t)(last - in.data));
        }
    }
    ck_assert_uint_eq(got, (unsigned)count);
    ck_assert_int_eq(F.offline, 0);
    ck_assert(link_online(F.link));
    ck_assert_uint_gt(link_room(F.link), 0);
    strbuf_free(&in);
}
END_TEST

/* Keeps the link's output at its budget, as producers do. */
static void fill_to_room(void)
{
    static const char one[] = "<message to='x@a.test'><body>................................"
                              "..............................................</body></message>";
    while (link_room(F.link) > 0)
        ck_assert_int_eq(link_send_raw(F.link, one, sizeof(one) - 1), 0);
}

/* Reads up to max bytes the link wrote, without waiting; returns how many. */
static size_t srv_drain(size_t max)
{
    char buf[16384];
    size_t got = 0;
    while (got < max) {
        ssize_t n = recv(F.sfd, buf, max - got < sizeof(buf) ? max - got : sizeof(buf), 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* "Not reading" is output still unwritten stall_timeout after it was
 * queued, not a full buffer: a reader that keeps up keeps the link, one
 * that takes only a trickle (less than send_buffer_bytes per
 * stall_timeout) loses it, though each read lets some output through. */
START_TEST(test_stall_timeout)
{
    size_t trickled = 0;
    int64_t end, t0;
    F.cfg.stall_timeout_ms = MS_PER_S;
    F.cfg.send_buffer_bytes = 4194304;
    link_free(&F.link);
    F.link = link_new(F.loop, &F.cfg, &H, NULL);
    link_start(F.link);
    srv_handshake();
    pump_until(&F.online, 1);
    /* A full buffer with nobody reading for half the timeout: kept. */
    end = cs_now_ms() + 500;
    while (cs_now_ms() < end) {
        fill_to_room();
        pump_ms(50);
    }
    ck_assert_int_eq(F.offline, 0);
    /* Slow but keeping up: 8 MiB every 200 ms for 2 s, the buffer full. */
    end = cs_now_ms() + 2000;
    while (cs_now_ms() < end) {
        fill_to_room();
        pump_ms(200);
        ck_assert_uint_gt(srv_drain(8388608), 0);
    }
    ck_assert_int_eq(F.offline, 0);
    /* A trickle: 1 MiB every 400 ms (2.5 MiB/s against a budget of 4 MiB
     * per second).  Output moves at every read, yet the oldest
     * pending output ages past the timeout: dropped within a few seconds. */
    t0 = cs_now_ms();
    while (F.offline == 0 && cs_now_ms() - t0 < 6000) {
        fill_to_room();
        pump_ms(400);
        trickled += srv_drain(1048576);
    }
    ck_assert_int_eq(F.offline, 1);
    ck_assert_uint_gt(trickled, 1048576);
    ck_assert(!link_online(F.link));
    srv_handshake();
    pump_until(&F.online, 2);
}
END_TEST

/* A server that stops reading entirely loses the link stall_timeout
 * after the socket stopped taking output (the kernel's buffers, a few
 * MiB on loopback, fill first). */
START_TEST(test_stall_nothing_read)
{
    int64_t t0;
    F.cfg.stall_timeout_ms = MS_PER_S;
    link_start(F.link);
    srv_handshake();
    pump_until(&F.online, 1);
    t0 = cs_now_ms();
    while (F.offline == 0 && cs_now_ms() - t0 < 8000) {
        fill_to_room();
        pump_ms(20);
    }
    ck_assert_int_eq(F.offline, 1);
    ck_assert_int_ge(cs_now_ms() - t0, 900);
}
END_TEST

/* XEP-0114 section 3: only an empty <handshake/> is success. */
START_TEST(test_handshake_with_content_refused)
{
    struct strbuf in = {0};
    link_start(F.link);
    srv_accept();
    srv_expect(&in, "to='" DOMAIN "'>");
    srv_send("<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
             "xmlns='jabber:component:accept' from='" DOMAIN "' id='3BF96D32'>");
    srv_expect(&in, "</handshake>");
    srv_send("<handshake>deadbeef</handshake>");
    ck_assert(srv_sees_close());
    ck_assert_int_eq(F.online, 0);
    ck_assert(!link_online(F.link));
    strbuf_free(&in);
}
END_TEST

START_TEST(test_shutdown_closes_stream)
{
    struct strbuf in = {0};
    link_start(F.link);
    srv_handshake();
    pump_until(&F.online, 1);
    link_shutdown(F.link);
    srv_expect(&in, "</stream:stream>");
    srv_send("</stream:stream>");
    pump_until(&F.closed, 1);
    ck_assert(!link_online(F.link));
    strbuf_free(&in);
}
END_TEST

START_TEST(test_shutdown_when_offline)
{
    link_start(F.link);
    link_shutdown(F.link);
    ck_assert_int_eq(F.closed, 1);
}
END_TEST

START_TEST(test_backoff)
{
    for (unsigned a = 0; a < 40; a++) {
        for (int k = 0; k < 50; k++) {
            int d = link_backoff_ms(500, 30000, a);
            int64_t full = 500;
            for (unsigned i = 0; i < a && full < 30000; i++)
                full *= 2;
            if (full > 30000)
                full = 30000;
            ck_assert_int_ge(d, full / 2);
            ck_assert_int_le(d, full);
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("link");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_handshake_and_stanzas);
    tcase_add_test(tc, test_send_while_offline);
    tcase_add_test(tc, test_doctype_restarts_stream);
    tcase_add_test(tc, test_pi_restarts_stream);
    tcase_add_test(tc, test_garbage_restarts_stream);
    tcase_add_test(tc, test_depth_restarts_stream);
    tcase_add_test(tc, test_server_close_reconnects);
    tcase_add_test(tc, test_oversize_bounded);
    tcase_add_test(tc, test_stream_errors_retry);
    tcase_add_test(tc, test_conflict_retry);
    tcase_add_test(tc, test_host_unknown_after_empty_id);
    tcase_add_test(tc, test_burst_over_budget_is_kept);
    tcase_add_test(tc, test_stall_timeout);
    tcase_add_test(tc, test_stall_nothing_read);
    tcase_add_test(tc, test_handshake_with_content_refused);
    tcase_add_test(tc, test_shutdown_closes_stream);
    tcase_add_test(tc, test_shutdown_when_offline);
    tcase_add_test(tc, test_backoff);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
