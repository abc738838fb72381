/* check_service.c - the domain's queries and the defined answers to bad
 * input, driven as pure (stanza in -> stanzas out) calls. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cs_service.h"
#include "cs_xml.h"
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
           "<feature var='jabber:iq:version'/><feature var='urn:chanstat:federation:0'/>"
           "<feature var='jabber:iq:gateway'/></query></iq>\n");
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

START_TEST(test_bad_to_and_message)
{
    expect("<iq type='get' id='j1' from='u@a.test/r' to='a b@status.a.test'><ping "
           "xmlns='urn:xmpp:ping'/></iq>",
           "<iq from='a b@status.a.test' to='u@a.test/r' id='j1' type='error'><ping "
           "xmlns='urn:xmpp:ping'/>" ERR("jid-malformed", "modify") "</iq>\n");
    expect("<message type='chat' id='c1' from='u@a.test/r' "
           "to='status.a.test'><body>hi</body></message>",
           "<message from='status.a.test' to='u@a.test/r' id='c1' type='error'>" ERR(
               "service-unavailable", "cancel") "</message>\n");
    /* Upper-case domain in 'to' is the same domain. */
    expect("<iq type='get' id='p2' from='u@a.test/r' to='STATUS.a.test'><ping "
           "xmlns='urn:xmpp:ping'/></iq>",
           "<iq from='STATUS.a.test' to='u@a.test/r' id='p2' type='result'/>\n");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("service");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ping);
    tcase_add_test(tc, test_disco_info);
    tcase_add_test(tc, test_disco_items_and_version);
    tcase_add_test(tc, test_unknown_iq);
    tcase_add_test(tc, test_malformed_iq);
    tcase_add_test(tc, test_silent_cases);
    tcase_add_test(tc, test_bad_to_and_message);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
