/* xmpp_query.c - a real XMPP client (libstrophe, client mode) for the
 * end-to-end tests: logs in, sends one stanza given as raw XML, prints the
 * first reply with the same id and exits 0; exits 1 on login failure or
 * when no reply came within ten seconds.
 *
 *   xmpp_query JID PASSWORD PORT XML */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <strophe.h>

struct query {
    const char *xml;
    char id[128];
    int done; /* 1 reply printed, -1 failed */
    xmpp_ctx_t *ctx;
};

static int on_reply(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *ud)
{
    struct query *q = ud;
    const char *id = xmpp_stanza_get_id(stanza);
    char *text = NULL;
    size_t len = 0;

    if (id == NULL || strcmp(id, q->id) != 0)
        return 1; /* keep waiting */
    if (xmpp_stanza_to_text(stanza, &text, &len) != XMPP_EOK) {
        q->done = -1;
        return 0;
    }
    printf("%s\n", text);
    xmpp_free(q->ctx, text);
    q->done = 1;
    return 0;
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t status, int error,
                    xmpp_stream_error_t *stream_error, void *ud)
{
    struct query *q = ud;
    if (status == XMPP_CONN_CONNECT) {
        xmpp_handler_add(conn, on_reply, NULL, NULL, NULL, q);
        xmpp_send_raw_string(conn, "%s", q->xml);
        return;
    }
    if (q->done == 0) {
        fprintf(stderr, "xmpp_query: connection failed or closed (error %d)\n", error);
        q->done = -1;
    }
}

/* The value of the first id attribute in xml. */
static int find_id(const char *xml, char *out, size_t outlen)
{
    const char *p = strstr(xml, " id=");
    const char *end;
    char quote;
    if (p == NULL)
        return -1;
    quote = p[4];
    if (quote != '\'' && quote != '"')
        return -1;
    end = strchr(p + 5, quote);
    if (end == NULL || (size_t)(end - (p + 5)) >= outlen)
        return -1;
    memcpy(out, p + 5, (size_t)(end - (p + 5)));
    out[end - (p + 5)] = '\0';
    return 0;
}

int main(int argc, char **argv)
{
    struct query q = {0};
    xmpp_conn_t *conn;
    time_t deadline;

    if (argc != 5) {
        fprintf(stderr, "usage: xmpp_query JID PASSWORD PORT XML\n");
        return 2;
    }
    q.xml = argv[4];
    if (find_id(q.xml, q.id, sizeof(q.id)) != 0) {
        fprintf(stderr, "xmpp_query: the stanza needs an id attribute\n");
        return 2;
    }
    xmpp_initialize();
    q.ctx = xmpp_ctx_new(NULL, NULL);
    conn = q.ctx ? xmpp_conn_new(q.ctx) : NULL;
    if (conn == NULL) {
        fprintf(stderr, "xmpp_query: out of memory\n");
        return 1;
    }
    if (xmpp_conn_set_flags(conn, XMPP_CONN_FLAG_DISABLE_TLS) != XMPP_EOK) {
        fprintf(stderr, "xmpp_query: cannot disable TLS\n");
        return 1;
    }
    xmpp_conn_set_jid(conn, argv[1]);
    xmpp_conn_set_pass(conn, argv[2]);
    if (xmpp_connect_client(conn, "127.0.0.1", (unsigned short)atoi(argv[3]), on_conn, &q) !=
        XMPP_EOK) {
        fprintf(stderr, "xmpp_query: cannot connect\n");
        return 1;
    }
    deadline = time(NULL) + 10;
    while (q.done == 0 && time(NULL) < deadline)
        xmpp_run_once(q.ctx, 100);
    if (q.done == 0)
        fprintf(stderr, "xmpp_query: no reply to id '%s' within 10 s\n", q.id);
    xmpp_disconnect(conn);
    for (int i = 0; i < 10; i++)
        xmpp_run_once(q.ctx, 10);
    xmpp_conn_release(conn);
    xmpp_ctx_free(q.ctx);
    xmpp_shutdown();
    return q.done == 1 ? 0 : 1;
}
