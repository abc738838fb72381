/* check_service.c - the domain's queries and the defined answers to bad
 * input, driven as pure (stanza in -> stanzas out) calls. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cs_iqwait.h"
#include "cs_service.h"
#include "cs_util.h"
#include "cs_xml.h"
#include "svcfix.h"
#include "testout.h"
#include "testutil.h"

static struct xml_node *parse(const char *xml)
{
    return test_parse_stanza(xml);
}

/* Runs one stanza through the service; returns the serialised replies,
 * one per line (caller frees). */
static char *run(const char *xml)
{
    struct service svc;
    struct testout t;
    struct xml_node *st = parse(xml);
    char *got;

    testout_init(&t);
    service_init(&svc, "status.a.test", NULL, NULL, &t.path);
    service_handle(&svc, st, 1000);
    service_deinit(&svc);
    got = testout_take(&t);
    testout_deinit(&t);
    xml_free(st);
    return got;
}

#define ERR(cond, type)                                                                            \
    "<error type='" type "'><" cond " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"

static void expect(const char *in, const char *want)
{
    char *got = run(in);
    ck_assert_str_eq(got, want);
    free(got);
}

/* XEP-0356: a server's privilege announcement is recorded per server
 * domain (both namespaces; the latest wins) and never answered; the same
 * element from a user is an ordinary message. */
START_TEST(test_privilege_announcement)
{
    struct service svc;
    struct testout t;
    const struct privilege *pv;
    struct xml_node *st;
    testout_init(&t);
    service_init(&svc, "status.a.test", NULL, NULL, &t.path);
    st = parse("<message from='a.test' to='status.a.test'>"
               "<privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/>"
               "<perm access='presence' type='managed_entity'/></privilege></message>");
    service_handle(&svc, st, 1000);
    xml_free(st);
    ck_assert_uint_eq(t.buf.len, 0);
    pv = privileges_of(&svc.priv, "a.test");
    ck_assert_ptr_nonnull(pv);
    ck_assert_int_eq(pv->version, 2);
    ck_assert_int_eq(pv->roster, PRIV_ROSTER_BOTH);
    ck_assert_int_eq(pv->presence, PRIV_PRESENCE_MANAGED_ENTITY);
    ck_assert_int_eq(pv->message, PRIV_MESSAGE_NONE);
    /* Version 1, a later announcement: replaces the first; odd values
     * are ignored. */
    st = parse("<message from='a.test' to='status.a.test'>"
               "<privilege xmlns='urn:xmpp:privilege:1'><perm access='roster' type='get'/>"
               "<perm access='message' type='outgoing'/><perm access='presence' type='all'/>"
               "</privilege></message>");
    service_handle(&svc, st, 1000);
    xml_free(st);
    ck_assert_uint_eq(t.buf.len, 0);
    pv = privileges_of(&svc.priv, "a.test");
    ck_assert_int_eq(pv->version, 1);
    ck_assert_int_eq(pv->roster, PRIV_ROSTER_GET);
    ck_assert_int_eq(pv->message, PRIV_MESSAGE_OUTGOING);
    ck_assert_int_eq(pv->presence, PRIV_PRESENCE_NONE);
    ck_assert_ptr_null(privileges_of(&svc.priv, "b.test"));
    /* From a user: no grant, an ordinary message to the domain. */
    st = parse("<message from='mallory@a.test/r' to='status.a.test'>"
               "<privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/>"
               "</privilege></message>");
    service_handle(&svc, st, 1000);
    xml_free(st);
    ck_assert_ptr_nonnull(strstr(t.buf.data, "service-unavailable"));
    ck_assert_int_eq(privileges_of(&svc.priv, "a.test")->roster, PRIV_ROSTER_GET);
    service_deinit(&svc);
    testout_deinit(&t);
}
END_TEST

START_TEST(test_ping)
{
    expect("<iq type='get' id='p1' from='u@a.test/r' to='status.a.test'>"
           "<ping xmlns='urn:xmpp:ping'/></iq>",
           "<iq from='status.a.test' to='u@a.test/r' id='p1' type='result'/>\n");
}
END_TEST

START_TEST(test_disco_info)
{
    expect("<iq type='get' id='d1' from='u@a.test/r' to='status.a.test'>"
           "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
           "<iq from='status.a.test' to='u@a.test/r' id='d1' type='result'>"
           "<query xmlns='http://jabber.org/protocol/disco#info'>"
           "<identity category='component' type='presence' name='chanstat'/>"
           "<feature var='http://jabber.org/protocol/disco#info'/>"
           "<feature var='http://jabber.org/protocol/disco#items'/>"
           "<feature var='urn:xmpp:ping'/>"
           "<feature var='jabber:iq:version'/>"
           "<feature var='jabber:iq:last'/></query></iq>\n");
    expect("<iq type='get' id='d2' from='u@a.test/r' to='status.a.test'>"
           "<query xmlns='http://jabber.org/protocol/disco#info' node='x'/></iq>",
           "<iq from='status.a.test' to='u@a.test/r' id='d2' type='error'>"
           "<query xmlns='http://jabber.org/protocol/disco#info' node='x'/>" ERR(
               "item-not-found", "cancel") "</iq>\n");
}
END_TEST

START_TEST(test_disco_items_and_version)
{
    expect("<iq type='get' id='i1' from='u@a.test/r' to='status.a.test'>"
           "<query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
           "<iq from='status.a.test' to='u@a.test/r' id='i1' type='result'>"
           "<query xmlns='http://jabber.org/protocol/disco#items'/></iq>\n");
    expect("<iq type='get' id='v1' from='u@a.test/r' to='status.a.test'>"
           "<query xmlns='jabber:iq:version'/></iq>",
           "<iq from='status.a.test' to='u@a.test/r' id='v1' type='result'>"
           "<query xmlns='jabber:iq:version'><name>" PACKAGE_NAME "</name><version>" PACKAGE_VERSION
           "</version></query></iq>\n");
}
END_TEST

START_TEST(test_unknown_iq)
{
    expect("<iq type='get' id='u1' from='u@a.test/r' to='status.a.test'>"
           "<query xmlns='urn:example:nothing'/></iq>",
           "<iq from='status.a.test' to='u@a.test/r' id='u1' type='error'>"
           "<query xmlns='urn:example:nothing'/>" ERR("service-unavailable", "cancel") "</iq>\n");
    /* A set of a known namespace is unknown too. */
    expect("<iq type='set' id='u2' from='u@a.test/r' to='status.a.test'>"
           "<ping xmlns='urn:xmpp:ping'/></iq>",
           "<iq from='status.a.test' to='u@a.test/r' id='u2' type='error'>"
           "<ping xmlns='urn:xmpp:ping'/>" ERR("service-unavailable", "cancel") "</iq>\n");
    /* To a channel address: nothing served there yet. */
    expect("<iq type='get' id='u3' from='u@a.test/r' to='bob@status.a.test'>"
           "<ping xmlns='urn:xmpp:ping'/></iq>",
           "<iq from='bob@status.a.test' to='u@a.test/r' id='u3' type='error'>"
           "<ping xmlns='urn:xmpp:ping'/>" ERR("service-unavailable", "cancel") "</iq>\n");
}
END_TEST

#define BADREQ(text)                                                                               \
    "<error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"              \
    "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>" text "</text></error>"

START_TEST(test_malformed_iq)
{
    expect("<iq type='get' id='m1' from='u@a.test/r' to='status.a.test'/>",
           "<iq from='status.a.test' to='u@a.test/r' id='m1' type='error'>" BADREQ(
               "iq get/set needs exactly one child element") "</iq>\n");
    expect("<iq type='get' id='m2' from='u@a.test/r' to='status.a.test'><a xmlns='x'/><b "
           "xmlns='y'/></iq>",
           "<iq from='status.a.test' to='u@a.test/r' id='m2' type='error'><a xmlns='x'/>" BADREQ(
               "iq get/set needs exactly one child element") "</iq>\n");
    expect("<iq type='get' from='u@a.test/r' to='status.a.test'><ping xmlns='urn:xmpp:ping'/></iq>",
           "<iq from='status.a.test' to='u@a.test/r' type='error'><ping "
           "xmlns='urn:xmpp:ping'/>" BADREQ("iq needs an id") "</iq>\n");
    expect("<iq type='fetch' id='m3' from='u@a.test/r' to='status.a.test'><ping "
           "xmlns='urn:xmpp:ping'/></iq>",
           "<iq from='status.a.test' to='u@a.test/r' id='m3' type='error'><ping "
           "xmlns='urn:xmpp:ping'/>" BADREQ("iq type must be get, set, result or error") "</iq>\n");
}
END_TEST

START_TEST(test_silent_cases)
{
    /* Errors are never answered (RFC 6120 8.3.1); results to nothing are dropped. */
    expect("<iq type='error' id='e1' from='u@a.test/r' to='status.a.test'/>", "");
    expect("<message type='error' from='u@a.test/r' to='status.a.test'/>", "");
    expect("<iq type='result' id='r1' from='u@a.test/r' to='status.a.test'/>", "");
    /* No or bad 'from': nobody to answer. */
    expect("<iq type='get' id='f1' to='status.a.test'><ping xmlns='urn:xmpp:ping'/></iq>", "");
    expect(
        "<iq type='get' id='f2' from='a@@b' to='status.a.test'><ping xmlns='urn:xmpp:ping'/></iq>",
        "");
    /* Headline to nobody: dropped (RFC 6121 8.5.2). */
    expect("<message type='headline' from='u@a.test/r' to='status.a.test'><body>x</body></message>",
           "");
    /* Another domain: not ours to answer. */
    expect("<iq type='get' id='o1' from='u@a.test/r' to='other.test'><ping "
           "xmlns='urn:xmpp:ping'/></iq>",
           "");
}
END_TEST

/* What the registry's callback saw. */
struct heard {
    int calls;
    char type[16];
};

static void on_heard(void *ud, const struct xml_node *answer, int64_t now_ms)
{
    struct heard *h = ud;
    h->calls++;
    cs_strlcpy(h->type, answer ? xml_attr(answer, "type") : "(none)", sizeof(h->type));
}

/* Results and errors go to the registry of our iqs and nowhere else; an
 * answer it does not take is dropped, never answered. */
START_TEST(test_answers_to_our_iqs)
{
    struct service svc;
    struct testout t;
    struct iqwait *w = iqwait_new();
    struct heard a = {0}, b = {0};
    char ida[IQWAIT_ID_MAX], idb[IQWAIT_ID_MAX], xml[256];
    struct xml_node *st;
    testout_init(&t);
    service_init(&svc, "status.a.test", NULL, NULL, &t.path);
    svc.iqwait = w;
    cs_strlcpy(ida, iqwait_add(w, "ur", "u1@a.test", 31000, on_heard, &a), sizeof(ida));
    cs_strlcpy(idb, iqwait_add(w, "ur", "u2@a.test", 31000, on_heard, &b), sizeof(idb));
    /* A forged result (another sender) and a result to another domain:
     * dropped; a's request still waits. */
    snprintf(xml, sizeof(xml), "<iq type='result' id='%s' from='u2@a.test' to='status.a.test'/>",
             ida);
    st = parse(xml);
    service_handle(&svc, st, 1000);
    xml_free(st);
    snprintf(xml, sizeof(xml), "<iq type='result' id='%s' from='u1@a.test' to='other.test'/>", ida);
    st = parse(xml);
    service_handle(&svc, st, 1000);
    xml_free(st);
    ck_assert_int_eq(a.calls + b.calls, 0);
    ck_assert_uint_eq(iqwait_pending(w), 2);
    /* The real answers: a result, an error. */
    snprintf(xml, sizeof(xml),
             "<iq type='result' id='%s' from='u1@a.test' to='status.a.test'><query "
             "xmlns='jabber:iq:roster'/></iq>",
             ida);
    st = parse(xml);
    service_handle(&svc, st, 1000);
    xml_free(st);
    snprintf(xml, sizeof(xml),
             "<iq type='error' id='%s' from='u2@a.test' to='status.a.test'><error "
             "type='cancel'><service-unavailable "
             "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
             idb);
    st = parse(xml);
    service_handle(&svc, st, 1000);
    /* Again: answered already, dropped. */
    service_handle(&svc, st, 1000);
    xml_free(st);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_str_eq(a.type, "result");
    ck_assert_int_eq(b.calls, 1);
    ck_assert_str_eq(b.type, "error");
    ck_assert_uint_eq(iqwait_pending(w), 0);
    ck_assert_uint_eq(t.buf.len, 0); /* nothing is ever answered */
    service_deinit(&svc);
    testout_deinit(&t);
    iqwait_free(&w);
}
END_TEST

START_TEST(test_bad_to_and_message)
{
    expect("<iq type='get' id='j1' from='u@a.test/r' to='a b@status.a.test'><ping "
           "xmlns='urn:xmpp:ping'/></iq>",
           "<iq from='status.a.test' to='u@a.test/r' id='j1' type='error'><ping "
           "xmlns='urn:xmpp:ping'/>" ERR("jid-malformed", "modify") "</iq>\n");
    expect("<message type='chat' id='c1' from='u@a.test/r' "
           "to='status.a.test'><body>hi</body></message>",
           "<message from='status.a.test' to='u@a.test/r' id='c1' type='error'>" ERR(
               "service-unavailable", "cancel") "</message>\n");
    /* A full JID of the domain is the domain, answered from the address
     * asked (some clients ask nothing else); uptime (XEP-0012) there too. */
    expect("<iq type='get' id='p3' from='u@a.test/r' to='status.a.test/anything'><ping "
           "xmlns='urn:xmpp:ping'/></iq>",
           "<iq from='status.a.test/anything' to='u@a.test/r' id='p3' type='result'/>\n");
    expect("<iq type='get' id='l1' from='u@a.test/r' to='status.a.test/x'><query "
           "xmlns='jabber:iq:last'/></iq>",
           "<iq from='status.a.test/x' to='u@a.test/r' id='l1' type='result'><query "
           "xmlns='jabber:iq:last' seconds='1'/></iq>\n");
    /* Upper-case domain in 'to' is the same domain; the answer comes from
     * the address normalised. */
    expect("<iq type='get' id='p2' from='u@a.test/r' to='STATUS.a.test.'><ping "
           "xmlns='urn:xmpp:ping'/></iq>",
           "<iq from='status.a.test' to='u@a.test/r' id='p2' type='result'/>\n");
}
END_TEST

/* ---- Channels: a service with a home (svcfix.h) ---- */

#define PUB "pub@" FIX_DOMAIN

static void channels_setup(void)
{
    svcfix_setup();
    svcfix_sql("INSERT INTO channel (name, owner, policy, display_name) VALUES"
               " ('pub', 'owner@a.test', 'open', 'Pub Desk & Co'),"
               " ('plain', 'owner@a.test', 'open', NULL),"
               " ('odd', 'owner@a.test', 'open', 'bell' || char(7))");
}

static void in_eq(const char *in, const char *want)
{
    ck_assert_str_eq(svcfix_in(in), want);
}

START_TEST(test_channel_disco)
{
    /* One table drives dispatch and disco#info: a channel advertises what
     * it answers, and names itself by its display name. */
    in_eq("<iq type='get' id='d1' from='x@b.test/r' to='" PUB "'>"
          "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
          "<iq from='" PUB "' to='x@b.test/r' id='d1' type='result'>"
          "<query xmlns='http://jabber.org/protocol/disco#info'>"
          "<identity category='account' type='registered' name='Pub Desk &amp; Co'/>"
          "<feature var='http://jabber.org/protocol/disco#info'/>"
          "<feature var='http://jabber.org/protocol/disco#items'/>"
          "<feature var='jabber:iq:last'/>"
          "<feature var='vcard-temp'/>"
          "<feature var='http://jabber.org/protocol/commands'/></query></iq>\n");
    ck_assert_ptr_nonnull(
        strstr(svcfix_in("<iq type='get' id='d2' from='x@b.test/r' to='odd@" FIX_DOMAIN "'>"
                         "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>"),
               "name='odd'"));
    /* The domain with a home serves commands (registration is off). */
    in_eq("<iq type='get' id='d3' from='x@b.test/r' to='" FIX_DOMAIN "'>"
          "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
          "<iq from='" FIX_DOMAIN "' to='x@b.test/r' id='d3' type='result'>"
          "<query xmlns='http://jabber.org/protocol/disco#info'>"
          "<identity category='component' type='presence' name='chanstat'/>"
          "<feature var='urn:chanstat:federation:0'/>"
          "<feature var='http://jabber.org/protocol/disco#info'/>"
          "<feature var='http://jabber.org/protocol/disco#items'/>"
          "<feature var='urn:xmpp:ping'/>"
          "<feature var='jabber:iq:version'/>"
          "<feature var='jabber:iq:last'/>"
          "<feature var='http://jabber.org/protocol/commands'/>"
          "<feature var='jabber:iq:gateway'/></query></iq>\n");
    /* A channel has no items; unknown nodes are not found. */
    in_eq("<iq type='get' id='i1' from='x@b.test/r' to='" PUB "'>"
          "<query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
          "<iq from='" PUB "' to='x@b.test/r' id='i1' type='result'>"
          "<query xmlns='http://jabber.org/protocol/disco#items'/></iq>\n");
    in_eq("<iq type='get' id='i2' from='x@b.test/r' to='" PUB "'>"
          "<query xmlns='http://jabber.org/protocol/disco#items' node='x'/></iq>",
          "<iq from='" PUB "' to='x@b.test/r' id='i2' type='error'>"
          "<query xmlns='http://jabber.org/protocol/disco#items' node='x'/>" ERR(
              "item-not-found", "cancel") "</iq>\n");
    in_eq("<iq type='get' id='i3' from='x@b.test/r' to='" PUB "'>"
          "<query xmlns='http://jabber.org/protocol/disco#info' node='x'/></iq>",
          "<iq from='" PUB "' to='x@b.test/r' id='i3' type='error'>"
          "<query xmlns='http://jabber.org/protocol/disco#info' node='x'/>" ERR(
              "item-not-found", "cancel") "</iq>\n");
    /* No such channel, a full JID, a set of a get-only query: nothing
     * served there (RFC 6121 8.5.1). */
    ck_assert_ptr_nonnull(
        strstr(svcfix_in("<iq type='get' id='n1' from='x@b.test/r' to='nosuch@" FIX_DOMAIN "'>"
                         "<vCard xmlns='vcard-temp'/></iq>"),
               "<service-unavailable "));
    ck_assert_ptr_nonnull(
        strstr(svcfix_in("<iq type='get' id='n2' from='x@b.test/r' to='" PUB "/r'>"
                         "<vCard xmlns='vcard-temp'/></iq>"),
               "<service-unavailable "));
    ck_assert_ptr_nonnull(
        strstr(svcfix_in("<iq type='set' id='n3' from='owner@a.test/r' to='" PUB "'>"
                         "<vCard xmlns='vcard-temp'><FN>x</FN></vCard></iq>"),
               "<service-unavailable "));
    ck_assert_ptr_nonnull(
        strstr(svcfix_in("<iq type='get' id='n4' from='x@b.test/r' to='" FIX_DOMAIN "'>"
                         "<vCard xmlns='vcard-temp'/></iq>"),
               "<service-unavailable "));
}
END_TEST

START_TEST(test_vcard_and_nick)
{
    /* XEP-0054: the display name as FN and NICKNAME, to anybody. */
    in_eq("<iq type='get' id='v1' from='x@b.test/r' to='" PUB "'><vCard xmlns='vcard-temp'/></iq>",
          "<iq from='" PUB "' to='x@b.test/r' id='v1' type='result'><vCard xmlns='vcard-temp'>"
          "<FN>Pub Desk &amp; Co</FN><NICKNAME>Pub Desk &amp; Co</NICKNAME></vCard></iq>\n");
    /* No display name, or one XML cannot carry: the channel's name. */
    in_eq("<iq type='get' id='v2' from='x@b.test/r' to='plain@" FIX_DOMAIN "'>"
          "<vCard xmlns='vcard-temp'/></iq>",
          "<iq from='plain@" FIX_DOMAIN "' to='x@b.test/r' id='v2' type='result'>"
          "<vCard xmlns='vcard-temp'><FN>plain</FN><NICKNAME>plain</NICKNAME></vCard></iq>\n");
    ck_assert_ptr_nonnull(
        strstr(svcfix_in("<iq type='get' id='v3' from='x@b.test/r' to='odd@" FIX_DOMAIN "'>"
                         "<vCard xmlns='vcard-temp'/></iq>"),
               "<FN>odd</FN>"));
    /* The channel's properties, as stored (schema 9); text escaped; a
     * value XML cannot carry, written by hand, is left out. */
    svcfix_sql("UPDATE channel SET description = 'Questions & <answers> ' || char(233),"
               " email = 'desk@a.test', url = 'https://a.test/desk?a=1&b=2',"
               " avatar_type = 'image/png', avatar = x'89504e470d0a1a0a0001' WHERE name = 'pub'");
    in_eq("<iq type='get' id='v4' from='x@b.test/r' to='" PUB "'><vCard xmlns='vcard-temp'/></iq>",
          "<iq from='" PUB "' to='x@b.test/r' id='v4' type='result'><vCard xmlns='vcard-temp'>"
          "<FN>Pub Desk &amp; Co</FN><NICKNAME>Pub Desk &amp; Co</NICKNAME>"
          "<DESC>Questions &amp; &lt;answers&gt; \xc3\xa9</DESC>"
          "<EMAIL><INTERNET/><USERID>desk@a.test</USERID></EMAIL>"
          "<URL>https://a.test/desk?a=1&amp;b=2</URL>"
          "<PHOTO><TYPE>image/png</TYPE><BINVAL>iVBORw0KGgoAAQ==</BINVAL></PHOTO>"
          "</vCard></iq>\n");
    svcfix_sql("UPDATE channel SET description = 'bell' || char(7), avatar = NULL,"
               " avatar_type = NULL WHERE name = 'pub'");
    in_eq("<iq type='get' id='v5' from='x@b.test/r' to='" PUB "'><vCard xmlns='vcard-temp'/></iq>",
          "<iq from='" PUB "' to='x@b.test/r' id='v5' type='result'><vCard xmlns='vcard-temp'>"
          "<FN>Pub Desk &amp; Co</FN><NICKNAME>Pub Desk &amp; Co</NICKNAME>"
          "<EMAIL><INTERNET/><USERID>desk@a.test</USERID></EMAIL>"
          "<URL>https://a.test/desk?a=1&amp;b=2</URL></vCard></iq>\n");
    /* XEP-0172: the subscription request a channel sends its owner
     * carries the display name as nick (none without a usable one). */
    const char *o = svcfix_online();
    ck_assert_ptr_nonnull(strstr(o, "<presence from='" PUB "' to='owner@a.test' type='subscribe'>"
                                    "<nick xmlns='http://jabber.org/protocol/nick'>Pub Desk &amp; "
                                    "Co</nick></presence>\n"));
    ck_assert_ptr_nonnull(
        strstr(o, "<presence from='plain@" FIX_DOMAIN "' to='owner@a.test' type='subscribe'/>\n"));
    ck_assert_ptr_nonnull(
        strstr(o, "<presence from='odd@" FIX_DOMAIN "' to='owner@a.test' type='subscribe'/>\n"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("service");
    TCase *tc = tcase_create("core");
    TCase *tch = tcase_create("channels");
    TCase *tca = tcase_create("answers");
    tcase_add_test(tc, test_ping);
    tcase_add_test(tc, test_privilege_announcement);
    tcase_add_test(tc, test_disco_info);
    tcase_add_test(tc, test_disco_items_and_version);
    tcase_add_test(tc, test_unknown_iq);
    tcase_add_test(tc, test_malformed_iq);
    tcase_add_test(tc, test_silent_cases);
    tcase_add_test(tc, test_bad_to_and_message);
    suite_add_tcase(s, tc);
    tcase_add_test(tca, test_answers_to_our_iqs);
    suite_add_tcase(s, tca);
    tcase_add_checked_fixture(tch, channels_setup, svcfix_teardown);
    tcase_add_test(tch, test_channel_disco);
    tcase_add_test(tch, test_vcard_and_nick);
    suite_add_tcase(s, tch);
    return test_run_suite(s);
}
