/* check_adhoc.c - XEP-0050 commands: who may run what where, every
 * command's steps and effects on the roster, and the session table. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svcfix.h"
#include "testutil.h"

#define D FIX_DOMAIN
#define ASK "ask@" D
#define OWNER "owner@a.test"
#define ADMIN "admin@a.test"
#define NS "http://jabber.org/protocol/commands"
#define NODE(x) "urn:chanstat:cmd:" x

static void setup(void)
{
    svcfix_setup();
    svcfix_configure(ADMIN " root@c.test", NULL);
    svcfix_sql("INSERT INTO channel (name, owner, policy) VALUES"
               " ('ask', '" OWNER "', 'approve'), ('pub', '" OWNER "', 'open'),"
               " ('other', 'else@a.test', 'open')");
    /* The owner approved the binding (To), two watchers, a pending request. */
    svcfix_sql("INSERT INTO roster (channel, jid, subscription) VALUES"
               " ('ask', '" OWNER "', 'to'), ('ask', 'w1@b.test', 'from'),"
               " ('ask', 'w2@b.test', 'both')");
    svcfix_sql("INSERT INTO roster (channel, jid, subscription, pending_in) VALUES"
               " ('ask', 'p1@b.test', 'none', 1)");
}

static bool has(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

#define ck_has(hay, needle) ck_assert_msg(has(hay, needle), "'%s' lacks '%s'", hay, needle)
#define ck_lacks(hay, needle) ck_assert_msg(!has(hay, needle), "'%s' has '%s'", hay, needle)

/* Runs a command step: from FROM to TO, node, action (NULL: none),
 * session (NULL: none), payload (a data form or ""). */
static const char *cmd(const char *from, const char *to, const char *node, const char *action,
                       const char *sid, const char *payload)
{
    static struct strbuf sb;
    sb.len = 0;
    strbuf_printf(&sb, "<iq type='set' id='c1' from='%s' to='%s'><command xmlns='" NS "'", from,
                  to);
    if (node)
        strbuf_printf(&sb, " node='%s'", node);
    if (action)
        strbuf_printf(&sb, " action='%s'", action);
    if (sid)
        strbuf_printf(&sb, " sessionid='%s'", sid);
    strbuf_printf(&sb, ">%s</command></iq>", payload ? payload : "");
    return svcfix_in(sb.data);
}

/* The sessionid of an answer (valid until the next call). */
static const char *sid_of(const char *answer)
{
    static char sid[64];
    const char *p = strstr(answer, "sessionid='");
    const char *e;
    ck_assert_ptr_nonnull(p);
    p += strlen("sessionid='");
    e = strchr(p, '\'');
    ck_assert_uint_lt((size_t)(e - p), sizeof(sid));
    memcpy(sid, p, (size_t)(e - p));
    sid[e - p] = '\0';
    return sid;
}

/* A submitted form with fields "var=v1,v2;var2=v" (no escaping). */
static const char *submit(const char *fields)
{
    static struct strbuf sb;
    char *copy = xstrdup(fields), *s1 = NULL;
    sb.len = 0;
    strbuf_append_str(&sb, "<x xmlns='jabber:x:data' type='submit'>");
    for (char *f = strtok_r(copy, ";", &s1); f; f = strtok_r(NULL, ";", &s1)) {
        char *eq = strchr(f, '='), *s2 = NULL;
        *eq = '\0';
        strbuf_printf(&sb, "<field var='%s'>", f);
        for (char *v = strtok_r(eq + 1, ",", &s2); v; v = strtok_r(NULL, ",", &s2))
            strbuf_printf(&sb, "<value>%s</value>", v);
        strbuf_append_str(&sb, "</field>");
    }
    strbuf_append_str(&sb, "</x>");
    free(copy);
    return sb.data;
}

static const char *row(const char *channel, const char *jid)
{
    static char q[256];
    snprintf(q, sizeof(q),
             "SELECT subscription || '/' || pending_in FROM roster WHERE channel = '%s' AND "
             "jid = '%s'",
             channel, jid);
    return svcfix_text(q);
}

/* RFC 6120 8.3.2: the defined condition, its text, then the XEP-0050 one. */
#define ck_err(o, type, cond, app)                                                                 \
    do {                                                                                           \
        const char *o_ = (o);                                                                      \
        ck_has(o_,                                                                                 \
               "<error type='" type "'><" cond " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>");  \
        ck_has(o_, "<" app " xmlns='" NS "'/></error></iq>");                                      \
    } while (0)

START_TEST(test_discovery)
{
    const char *o;
    /* The owner sees the channel commands at the channel. */
    o = svcfix_in("<iq type='get' id='i1' from='" OWNER "/pc' to='" ASK "'>"
                  "<query xmlns='http://jabber.org/protocol/disco#items' node='" NS "'/></iq>");
    ck_assert_str_eq(
        o,
        "<iq from='" ASK "' to='" OWNER "/pc' id='i1' type='result'>"
        "<query xmlns='http://jabber.org/protocol/disco#items' node='" NS "'>"
        "<item jid='" ASK "' node='" NODE(
            "watchers") "' name='List watchers and "
                        "pending requests'/>"
                        "<item jid='" ASK "' node='" NODE(
                            "pending") "' name='Approve or deny "
                                       "pending requests'/>"
                                       "<item jid='" ASK "' node='" NODE(
                                           "revoke") "' name='Revoke watchers'/>"
                                                     "<item jid='" ASK "' node='" NODE(
                                                         "policy") "' name='Set the subscription "
                                                                   "policy'/></query></iq>\n");
    /* A stranger sees none; neither at the domain, nor does the owner there. */
    o = svcfix_in("<iq type='get' id='i2' from='x@b.test/r' to='" ASK "'>"
                  "<query xmlns='http://jabber.org/protocol/disco#items' node='" NS "'/></iq>");
    ck_lacks(o, "<item");
    ck_has(o, "type='result'");
    o = svcfix_in("<iq type='get' id='i3' from='" OWNER "/pc' to='" D "'>"
                  "<query xmlns='http://jabber.org/protocol/disco#items' node='" NS "'/></iq>");
    ck_lacks(o, "<item");
    /* An admin: all four at the domain, the channel ones at a channel. */
    o = svcfix_in("<iq type='get' id='i4' from='" ADMIN "/pc' to='" D "'>"
                  "<query xmlns='http://jabber.org/protocol/disco#items' node='" NS "'/></iq>");
    ck_has(o, "<item jid='" D "' node='" NODE("watchers") "'");
    ck_has(o, "<item jid='" D "' node='" NODE("stats") "' name='Show the counters'/>");
    o = svcfix_in("<iq type='get' id='i5' from='" ADMIN "/pc' to='" ASK "'>"
                  "<query xmlns='http://jabber.org/protocol/disco#items' node='" NS "'/></iq>");
    ck_has(o, "node='" NODE("policy") "'");
    ck_lacks(o, NODE("stats"));
    /* A command node's info, for those who may run it. */
    o = svcfix_in(
        "<iq type='get' id='n1' from='" OWNER "/pc' to='" ASK "'>"
        "<query xmlns='http://jabber.org/protocol/disco#info' node='" NODE("pending") "'/></iq>");
    ck_assert_str_eq(o, "<iq from='" ASK "' to='" OWNER "/pc' id='n1' type='result'>"
                        "<query xmlns='http://jabber.org/protocol/disco#info' node='" NODE(
                            "pending") "'>"
                                       "<identity category='automation' type='command-node' "
                                       "name='Approve or deny pending "
                                       "requests'/><feature var='" NS
                                       "'/><feature var='jabber:x:data'/></query></iq>\n");
    o = svcfix_in(
        "<iq type='get' id='n2' from='x@b.test/r' to='" ASK "'>"
        "<query xmlns='http://jabber.org/protocol/disco#info' node='" NODE("pending") "'/></iq>");
    ck_has(o, "<item-not-found ");
}
END_TEST

START_TEST(test_forbidden_and_bad_requests)
{
    const char *o;
    /* Strangers, the owner of another channel, the owner at the domain:
     * forbidden, whatever the command. */
    o = cmd("x@b.test/r", ASK, NODE("watchers"), NULL, NULL, NULL);
    ck_assert_str_eq(
        o,
        "<iq from='" ASK "' to='x@b.test/r' id='c1' type='error'>"
        "<command xmlns='" NS
        "' node='" NODE("watchers") "'/>"
                                    "<error type='cancel'><forbidden "
                                    "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>\n");
    ck_has(cmd("else@a.test/r", ASK, NODE("pending"), "execute", NULL, NULL), "<forbidden ");
    ck_has(cmd(OWNER "/r", D, NODE("watchers"), NULL, NULL, NULL), "<forbidden ");
    ck_has(cmd("x@b.test/r", D, NODE("stats"), NULL, NULL, NULL), "<forbidden ");
    /* Stats are the admins' at the domain only. */
    ck_has(cmd(OWNER "/r", ASK, NODE("stats"), NULL, NULL, NULL), "<forbidden ");
    ck_has(cmd(ADMIN "/r", ASK, NODE("stats"), NULL, NULL, NULL), "<forbidden ");
    /* Even with a session id of someone else's session. */
    const char *sid = sid_of(cmd(OWNER "/r", ASK, NODE("policy"), NULL, NULL, NULL));
    char copy[64];
    cs_strlcpy(copy, sid, sizeof(copy));
    ck_has(cmd("x@b.test/r", ASK, NODE("policy"), "complete", copy, submit("policy=open")),
           "<forbidden ");
    ck_assert_str_eq(svcfix_text("SELECT policy FROM channel WHERE name = 'ask'"), "approve");
    /* No node, an unknown node, an unknown action. */
    ck_has(cmd(OWNER "/r", ASK, NULL, NULL, NULL, NULL),
           "<bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text ");
    ck_has(cmd(OWNER "/r", ASK, NODE("nosuch"), NULL, NULL, NULL), "<item-not-found ");
    ck_err(cmd(OWNER "/r", ASK, NODE("watchers"), "jump", NULL, NULL), "modify", "bad-request",
           "malformed-action");
    /* Continuing without a session; an unknown session. */
    ck_err(cmd(OWNER "/r", ASK, NODE("policy"), "complete", NULL, submit("policy=open")), "modify",
           "bad-request", "bad-sessionid");
    ck_err(cmd(OWNER "/r", ASK, NODE("policy"), "complete", "nosuch", submit("policy=open")),
           "modify", "bad-request", "bad-sessionid");
    /* A command to a channel that does not exist: nothing served there. */
    ck_has(cmd(OWNER "/r", "nosuch@" D, NODE("watchers"), NULL, NULL, NULL),
           "<service-unavailable ");
}
END_TEST

START_TEST(test_watchers_owner)
{
    const char *o = cmd(OWNER "/pc", ASK, NODE("watchers"), NULL, NULL, NULL);
    ck_has(o, "<iq from='" ASK "' to='" OWNER "/pc' id='c1' type='result'><command xmlns='" NS
              "' node='" NODE("watchers") "' sessionid='");
    ck_has(o, "status='completed'><x xmlns='jabber:x:data' type='result'>"
              "<title>Watchers of " ASK "</title>"
              "<field var='watchers' type='jid-multi' label='Watchers (2)'>"
              "<value>w1@b.test</value><value>w2@b.test</value></field>"
              "<field var='pending' type='jid-multi' label='Pending requests (1)'>"
              "<value>p1@b.test</value></field></x></command></iq>\n");
    /* Long lists are cut, with a note saying so before the form. */
    svcfix_sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)"
               " INSERT INTO roster (channel, jid, subscription)"
               " SELECT 'pub', printf('x%03d@b.test', i), 'from' FROM n");
    o = cmd(OWNER "/pc", "pub@" D, NODE("watchers"), NULL, NULL, NULL);
    ck_has(o, "status='completed'><note type='info'>Watchers: the first 500 of 600 are shown; "
              "chanstatctl lists all</note><x xmlns='jabber:x:data' type='result'>");
    ck_has(o, "label='Watchers (600)'><value>x001@b.test</value>");
    ck_has(o, "<value>x500@b.test</value></field>");
    ck_lacks(o, "x501@b.test");
    /* An admin at the channel address too. */
    ck_has(cmd(ADMIN "/pc", ASK, NODE("watchers"), "execute", NULL, NULL), "Watchers (2)");
}
END_TEST

START_TEST(test_watchers_admin_at_domain)
{
    const char *o = cmd(ADMIN "/pc", D, NODE("watchers"), NULL, NULL, NULL);
    char sid[64];
    /* First the channel: a form with one field. */
    ck_has(o, "status='executing'><actions execute='next'><next/></actions>"
              "<x xmlns='jabber:x:data' type='form'><title>List watchers and pending "
              "requests</title><instructions>Name the channel (NAME or NAME@domain).</instructions>"
              "<field var='channel' type='text-single' label='Channel'><required/></field></x>");
    cs_strlcpy(sid, sid_of(o), sizeof(sid));
    /* A channel that does not exist: the form again, with a note. */
    o = cmd(ADMIN "/pc", D, NODE("watchers"), "next", sid, submit("channel=nosuch"));
    ck_has(o, "status='executing'");
    ck_has(o, "<note type='error'>No channel named 'nosuch'.</note>");
    ck_assert_str_eq(sid_of(o), sid);
    /* Named by its address this time. */
    o = cmd(ADMIN "/pc", D, NODE("watchers"), "next", sid, submit("channel=ASK@" D));
    ck_has(o, "status='completed'");
    ck_has(o, "<value>w1@b.test</value><value>w2@b.test</value>");
    /* Completed: the session has ended (XEP-0050 4.4: session-expired). */
    ck_err(cmd(ADMIN "/pc", D, NODE("watchers"), "next", sid, submit("channel=ask")), "cancel",
           "not-allowed", "session-expired");
}
END_TEST

START_TEST(test_pending_approve_and_deny)
{
    const char *o;
    char sid[64];
    /* Two more requests arrive the ordinary way (relayed to the owner). */
    o = svcfix_in("<presence from='p2@b.test/r' to='" ASK "' type='subscribe'/>");
    ck_has(o, "<presence from='p2\\40b.test@" D "' to='" OWNER "' type='subscribe'>");
    svcfix_in("<presence from='p3@b.test/r' to='" ASK "' type='subscribe'/>");
    ck_assert_str_eq(row("ask", "p2@b.test"), "none/1");

    o = cmd(OWNER "/pc", ASK, NODE("pending"), NULL, NULL, NULL);
    ck_has(o, "status='executing'><actions execute='complete'><complete/></actions>"
              "<x xmlns='jabber:x:data' type='form'><title>Pending requests of " ASK "</title>");
    ck_has(o, "<field var='approve' type='list-multi' label='Approve'>"
              "<option label='p1@b.test'><value>p1@b.test</value></option>"
              "<option label='p2@b.test'><value>p2@b.test</value></option>"
              "<option label='p3@b.test'><value>p3@b.test</value></option></field>"
              "<field var='deny' type='list-multi' label='Deny'>");
    cs_strlcpy(sid, sid_of(o), sizeof(sid));

    /* Approve p1 and p2 (written in another case: JIDs are normalised),
     * deny p3, and one that is not pending. */
    o = cmd(OWNER "/pc", ASK, NODE("pending"), "complete", sid,
            submit("approve=p1@b.test,P2@B.test;deny=p3@b.test,w1@b.test"));
    ck_has(o, "status='completed'><note type='info'>Approved 2, denied 1. 1 were not "
              "pending.</note></command></iq>\n");
    /* The contacts hear it; the roster says so. */
    ck_has(o, "<presence from='" ASK "' to='p1@b.test' type='subscribed'/>");
    ck_has(o, "<presence from='" ASK "' to='p2@b.test' type='subscribed'/>");
    ck_has(o, "<presence from='" ASK "' to='p3@b.test' type='unsubscribed'/>");
    ck_lacks(o, "to='w1@b.test'");
    ck_assert_str_eq(row("ask", "p1@b.test"), "from/0");
    ck_assert_str_eq(row("ask", "p2@b.test"), "from/0");
    ck_assert_str_eq(row("ask", "p3@b.test"), "absent");
    ck_assert_str_eq(row("ask", "w1@b.test"), "from/0");

    /* Nothing pending any more: done in one step. */
    o = cmd(OWNER "/pc", ASK, NODE("pending"), NULL, NULL, NULL);
    ck_has(o, "status='completed'><note type='info'>No requests are pending at " ASK
              ".</note></command>");
}
END_TEST

START_TEST(test_revoke)
{
    const char *o;
    char sid[64];
    /* A node watching for its users is no one to revoke. */
    svcfix_sql("INSERT INTO roster (channel, jid, subscription) VALUES"
               " ('ask', 'status.b.test', 'from')");
    o = cmd(OWNER "/pc", ASK, NODE("revoke"), NULL, NULL, NULL);
    ck_has(o, "<x xmlns='jabber:x:data' type='form'><title>Watchers of " ASK "</title>");
    ck_has(o, "<field var='revoke' type='list-multi' label='Revoke'>"
              "<option label='w1@b.test'><value>w1@b.test</value></option>"
              "<option label='w2@b.test'><value>w2@b.test</value></option></field>");
    ck_lacks(o, "<value>" OWNER "</value>");
    ck_lacks(o, "<value>status.b.test</value>");
    cs_strlcpy(sid, sid_of(o), sizeof(sid));
    /* w1 is revoked; the owner and the node cannot be; p1 is no watcher. */
    o = cmd(OWNER "/pc", ASK, NODE("revoke"), "complete", sid,
            submit("revoke=W1@b.test," OWNER ",status.b.test,p1@b.test"));
    ck_has(o, "status='completed'><note type='info'>Revoked 1. 3 were not watchers that could "
              "be revoked.</note></command></iq>\n");
    ck_has(o, "<presence from='" ASK "' to='w1@b.test' type='unsubscribed'/>");
    ck_assert_str_eq(row("ask", "w1@b.test"), "absent");
    ck_assert_str_eq(row("ask", OWNER), "to/0");
    ck_assert_str_eq(row("ask", "status.b.test"), "from/0");
    ck_assert_str_eq(row("ask", "p1@b.test"), "none/1");
    /* A stranger may not. */
    ck_has(cmd("else@a.test/r", ASK, NODE("revoke"), "execute", NULL, NULL), "<forbidden ");
}
END_TEST

START_TEST(test_pending_bad_submissions)
{
    const char *o = cmd(ADMIN "/pc", D, NODE("pending"), NULL, NULL, NULL);
    char sid[64];
    cs_strlcpy(sid, sid_of(o), sizeof(sid));
    o = cmd(ADMIN "/pc", D, NODE("pending"), "next", sid, submit("channel=ask"));
    ck_has(o, "<option label='p1@b.test'>");
    /* In both lists, not a JID, no form at all: bad-payload, nothing done,
     * the session stays. */
    ck_err(cmd(ADMIN "/pc", D, NODE("pending"), "complete", sid,
               submit("approve=p1@b.test;deny=p1@b.test")),
           "modify", "bad-request", "bad-payload");
    ck_has(cmd(ADMIN "/pc", D, NODE("pending"), "complete", sid, submit("approve=a@@b")),
           "bad-payload");
    ck_has(cmd(ADMIN "/pc", D, NODE("pending"), "complete", sid, ""), "bad-payload");
    ck_assert_str_eq(row("ask", "p1@b.test"), "none/1");
    /* prev is never offered. */
    ck_err(cmd(ADMIN "/pc", D, NODE("pending"), "prev", sid, ""), "modify", "bad-request",
           "bad-action");
    o = cmd(ADMIN "/pc", D, NODE("pending"), "complete", sid, submit("deny=p1@b.test"));
    ck_has(o, "Approved 0, denied 1.");
    ck_assert_str_eq(row("ask", "p1@b.test"), "absent");
    ck_has(o, "<presence from='" ASK "' to='p1@b.test' type='unsubscribed'/>");
}
END_TEST

START_TEST(test_policy)
{
    const char *o = cmd(OWNER "/pc", "pub@" D, NODE("policy"), NULL, NULL, NULL);
    char sid[64];
    ck_has(o, "<field var='policy' type='list-single' label='Policy'><value>open</value>"
              "<option label='open'><value>open</value></option>"
              "<option label='approve'><value>approve</value></option>"
              "<option label='closed'><value>closed</value></option></field>");
    cs_strlcpy(sid, sid_of(o), sizeof(sid));
    ck_has(cmd(OWNER "/pc", "pub@" D, NODE("policy"), "complete", sid, submit("policy=sometimes")),
           "bad-payload");
    ck_has(cmd(OWNER "/pc", "pub@" D, NODE("policy"), "complete", sid, submit("other=x")),
           "bad-payload");
    o = cmd(OWNER "/pc", "pub@" D, NODE("policy"), "complete", sid, submit("policy=closed"));
    ck_has(o, "status='completed'><note type='info'>The policy of pub@" D " is now closed.</note>");
    ck_assert_str_eq(svcfix_text("SELECT policy FROM channel WHERE name = 'pub'"), "closed");
    /* The next request follows it. */
    ck_has(svcfix_in("<presence from='n@b.test/r' to='pub@" D "' type='subscribe'/>"),
           "<presence from='pub@" D "' to='n@b.test' type='unsubscribed'/>");
    /* The form shows the current value. */
    ck_has(cmd(OWNER "/pc", "pub@" D, NODE("policy"), NULL, NULL, NULL),
           "label='Policy'><value>closed</value>");
}
END_TEST

START_TEST(test_stats)
{
    const char *o = cmd(ADMIN "/pc", D, NODE("stats"), NULL, NULL, NULL);
    ck_has(o, "status='completed'><x xmlns='jabber:x:data' type='result'>"
              "<title>Counters of " D "</title>");
    ck_has(o, "<field var='stanzas_in.iq' type='text-single' label='stanzas_in.iq'>"
              "<value>7</value></field>");
    ck_has(o, "<field var='fanout_deliveries' type='text-single' label='fanout_deliveries'>"
              "<value>12345</value></field>");
    /* Without counters (a service not in a node) it is not offered. */
    F.opts.counters = NULL;
    service_configure(&F.svc, &F.opts);
    ck_has(cmd(ADMIN "/pc", D, NODE("stats"), NULL, NULL, NULL), "<forbidden ");
}
END_TEST

START_TEST(test_sessions)
{
    const char *o;
    char sid[64], sids[5][64];
    /* Cancel: canceled, and the session is gone. */
    o = cmd(OWNER "/pc", ASK, NODE("policy"), NULL, NULL, NULL);
    cs_strlcpy(sid, sid_of(o), sizeof(sid));
    o = cmd(OWNER "/pc", ASK, NODE("policy"), "cancel", sid, NULL);
    ck_has(o, "<iq from='" ASK "' to='" OWNER "/pc' id='c1' type='result'>"
              "<command xmlns='" NS "' node='" NODE("policy") "' sessionid='");
    ck_has(o, "' status='canceled'/></iq>\n");
    ck_assert_str_eq(sid_of(o), sid);
    ck_err(cmd(OWNER "/pc", ASK, NODE("policy"), "complete", sid, submit("policy=open")), "cancel",
           "not-allowed", "session-expired");
    ck_has(cmd(OWNER "/pc", ASK, NODE("policy"), "cancel", sid, NULL), "session-expired");

    /* Bound to the full JID that opened it, the address and the command:
     * to anybody else a bad session id. */
    o = cmd(OWNER "/pc", ASK, NODE("policy"), NULL, NULL, NULL);
    cs_strlcpy(sid, sid_of(o), sizeof(sid));
    ck_has(cmd(OWNER "/phone", ASK, NODE("policy"), "complete", sid, submit("policy=open")),
           "bad-sessionid");
    ck_has(cmd(OWNER "/pc", "pub@" D, NODE("policy"), "complete", sid, submit("policy=open")),
           "bad-sessionid");
    ck_has(cmd(OWNER "/pc", ASK, NODE("pending"), "complete", sid, submit("policy=open")),
           "bad-sessionid");

    /* It expires ten minutes after its last step. */
    F.now_ms += 9 * 60 * 1000;
    ck_has(cmd(OWNER "/pc", ASK, NODE("policy"), "complete", sid, submit("policy=x")),
           "bad-payload");
    F.now_ms += 9 * 60 * 1000;
    ck_has(cmd(OWNER "/pc", ASK, NODE("policy"), "complete", sid, submit("policy=x")),
           "bad-payload");
    F.now_ms += 10 * 60 * 1000;
    ck_err(cmd(OWNER "/pc", ASK, NODE("policy"), "complete", sid, submit("policy=open")), "cancel",
           "not-allowed", "session-expired");
    ck_has(cmd(OWNER "/pc", ASK, NODE("policy"), "complete", sid, submit("policy=open")),
           "session-expired");
    ck_assert_str_eq(svcfix_text("SELECT policy FROM channel WHERE name = 'ask'"), "approve");

    /* One bare JID holds four: a fifth drops its oldest. */
    for (int i = 0; i < 5; i++) {
        char from[64];
        snprintf(from, sizeof(from), OWNER "/r%d", i);
        F.now_ms += 1000;
        o = cmd(from, ASK, NODE("policy"), NULL, NULL, NULL);
        ck_has(o, "status='executing'");
        cs_strlcpy(sids[i], sid_of(o), sizeof(sids[i]));
    }
    ck_has(cmd(OWNER "/r0", ASK, NODE("policy"), "complete", sids[0], submit("policy=open")),
           "session-expired");
    /* An id never given out is a bad one. */
    ck_has(cmd(OWNER "/r0", ASK, NODE("policy"), "complete", "0000abcd-999999", ""),
           "bad-sessionid");
    for (int i = 1; i < 5; i++) {
        char from[64];
        snprintf(from, sizeof(from), OWNER "/r%d", i);
        ck_has(cmd(from, ASK, NODE("policy"), "cancel", sids[i], NULL), "status='canceled'");
    }
}
END_TEST

START_TEST(test_session_table_full)
{
    struct strbuf admins = {0};
    char from[64];
    for (int i = 0; i < 70; i++)
        strbuf_printf(&admins, "a%d@a.test ", i);
    svcfix_configure(admins.data, NULL);
    strbuf_free(&admins);
    /* 64 live sessions fill the table ... */
    for (int i = 0; i < 64; i++) {
        snprintf(from, sizeof(from), "a%d@a.test/r", i);
        ck_has(cmd(from, D, NODE("policy"), NULL, NULL, NULL), "status='executing'");
    }
    /* ... the next waits; one-step commands need no session. */
    ck_has(cmd("a64@a.test/r", D, NODE("policy"), NULL, NULL, NULL),
           "<error type='wait'><resource-constraint ");
    ck_has(cmd("a64@a.test/r", D, NODE("stats"), NULL, NULL, NULL), "status='completed'");
    ck_has(cmd("a64@a.test/r", ASK, NODE("watchers"), NULL, NULL, NULL), "status='completed'");
    /* Expired sessions make room. */
    F.now_ms += 10 * 60 * 1000 + 1;
    ck_has(cmd("a64@a.test/r", D, NODE("policy"), NULL, NULL, NULL), "status='executing'");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("adhoc");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, svcfix_teardown);
    tcase_add_test(tc, test_discovery);
    tcase_add_test(tc, test_forbidden_and_bad_requests);
    tcase_add_test(tc, test_watchers_owner);
    tcase_add_test(tc, test_watchers_admin_at_domain);
    tcase_add_test(tc, test_pending_approve_and_deny);
    tcase_add_test(tc, test_revoke);
    tcase_add_test(tc, test_pending_bad_submissions);
    tcase_add_test(tc, test_policy);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_sessions);
    tcase_add_test(tc, test_session_table_full);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
