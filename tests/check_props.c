/* check_props.c - channel properties pushed to watchers: the XEP-0115
 * verification string, the PEP nodes' items, XEP-0060 requests at a
 * channel, capabilities resolved once per 'ver', events on edits, and
 * property subscriptions with a lease. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_capsver.h"
#include "cs_error.h"
#include "cs_iqwait.h"
#include "cs_pep.h"
#include "cs_util.h"
#include "cs_xml.h"
#include "svcfix.h"
#include "testutil.h"

#define CH "desk@" FIX_DOMAIN
#define NICK_NODE "http://jabber.org/protocol/nick"
#define META_NODE "urn:xmpp:avatar:metadata"
#define CAPS_NODE "https://client.test"
#define PNG "x'89504e470d0a1a0a61626364'" /* signature + "abcd" */

/* ---- The verification string (XEP-0115 section 5) ---- */

static int ver_of_xml(const char *query, char out[CAPSVER_LEN])
{
    struct xml_node *q = test_parse_stanza(query);
    int r = capsver_sha1(q, out);
    xml_free(q);
    return r;
}

START_TEST(test_capsver_examples)
{
    char v[CAPSVER_LEN];
    /* Section 5.2, the simple example. */
    ck_assert_int_eq(ver_of_xml("<query xmlns='http://jabber.org/protocol/disco#info'>"
                                "<identity category='client' name='Exodus 0.9.1' type='pc'/>"
                                "<feature var='http://jabber.org/protocol/muc'/>"
                                "<feature var='http://jabber.org/protocol/caps'/>"
                                "<feature var='http://jabber.org/protocol/disco#info'/>"
                                "<feature var='http://jabber.org/protocol/disco#items'/></query>",
                                v),
                     0);
    ck_assert_str_eq(v, "QgayPKawpkPSDYmwT/WM94uAlu0=");
    /* Section 5.3, the complex example: two languages, an extended form. */
    ck_assert_int_eq(
        ver_of_xml("<query xmlns='http://jabber.org/protocol/disco#info'>"
                   "<identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>"
                   "<identity xml:lang='el' category='client' name='\xce\xa8 0.11' type='pc'/>"
                   "<feature var='http://jabber.org/protocol/caps'/>"
                   "<feature var='http://jabber.org/protocol/disco#info'/>"
                   "<feature var='http://jabber.org/protocol/disco#items'/>"
                   "<feature var='http://jabber.org/protocol/muc'/>"
                   "<x xmlns='jabber:x:data' type='result'>"
                   "<field var='FORM_TYPE' type='hidden'>"
                   "<value>urn:xmpp:dataforms:softwareinfo</value></field>"
                   "<field var='ip_version'><value>ipv4</value><value>ipv6</value></field>"
                   "<field var='os'><value>Mac</value></field>"
                   "<field var='os_version'><value>10.5.1</value></field>"
                   "<field var='software'><value>Psi</value></field>"
                   "<field var='software_version'><value>0.11</value></field></x></query>",
                   v),
        0);
    ck_assert_str_eq(v, "q07IKJEyjvHSyhy//CH0CxmKi8w=");
    /* Section 5.4: what is not to be processed. */
    ck_assert_int_eq(ver_of_xml("<query xmlns='http://jabber.org/protocol/disco#info'>"
                                "<feature var='a'/><feature var='a'/></query>",
                                v),
                     CS_EINVAL);
    ck_assert_int_eq(ver_of_xml("<query xmlns='http://jabber.org/protocol/disco#info'>"
                                "<identity category='client' type='pc'/>"
                                "<identity category='client' type='pc'/></query>",
                                v),
                     CS_EINVAL);
    ck_assert_int_eq(ver_of_xml("<query xmlns='http://jabber.org/protocol/disco#info'>"
                                "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'"
                                " type='text-single'><value>urn:x</value></field></x></query>",
                                v),
                     CS_EINVAL);
    ck_assert_int_eq(ver_of_xml("<query xmlns='http://jabber.org/protocol/disco#info'>"
                                "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'"
                                " type='hidden'><value>urn:x</value></field></x>"
                                "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'"
                                " type='hidden'><value>urn:x</value></field></x></query>",
                                v),
                     CS_EINVAL);
}
END_TEST

/* ---- The fixture: an open channel with every property, watchers ---- */

static char photo[41];

static void props_setup(void)
{
    static const unsigned char png[] = {0x89, 'P',  'N', 'G', '\r', '\n',
                                        0x1a, '\n', 'a', 'b', 'c',  'd'};
    struct pep_limits lim = {
        .lease_default_s = 3600, .lease_max_s = 86400, .max_subscriptions = 100};
    svcfix_setup();
    svcfix_use_props(&lim);
    svcfix_sql("INSERT INTO channel (name, owner, policy, display_name, description, email, url,"
               " avatar_type, avatar) VALUES ('desk', 'o@a.test', 'open',"
               " 'Front & <desk> \xc3\x9c', 'Q & A', 'desk@a.test', 'https://a.test/?a=1&b=2',"
               " 'image/png', " PNG ");"
               "INSERT INTO channel (name, owner, policy) VALUES ('shut', 'o@a.test', 'closed');"
               "INSERT INTO roster (channel, jid, subscription) VALUES"
               " ('desk', 'w1@b.test', 'from'), ('desk', 'w2@b.test', 'both'),"
               " ('desk', 'w3@b.test', 'from'), ('shut', 'w1@b.test', 'from')");
    cs_sha1_hex(png, sizeof(png), photo);
}

static bool has(const char *out, const char *want)
{
    return strstr(out, want) != NULL;
}

static unsigned count(const char *out, const char *what)
{
    unsigned n = 0;
    for (const char *p = strstr(out, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

static const char *items_of(const char *node)
{
    static char buf[512];
    snprintf(buf, sizeof(buf),
             "<iq type='get' from='x@c.test/r' to='" CH "' id='i1'>"
             "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='%s'/></pubsub></iq>",
             node);
    return svcfix_in(buf);
}

START_TEST(test_items)
{
    const char *o;
    char want[256];
    o = items_of(NICK_NODE);
    ck_assert_msg(has(o, "<items node='" NICK_NODE "'><item id='current'><nick xmlns='" NICK_NODE
                         "'>Front &amp; &lt;desk&gt; \xc3\x9c</nick></item></items>"),
                  "%s", o);
    o = items_of("urn:xmpp:vcard4");
    ck_assert_msg(has(o,
                      "<vcard xmlns='urn:ietf:params:xml:ns:vcard-4.0'><fn><text>Front &amp; "
                      "&lt;desk&gt; \xc3\x9c</text></fn><nickname><text>Front &amp; &lt;desk&gt; "
                      "\xc3\x9c</text></nickname><note><text>Q &amp; A</text></note><email>"
                      "<text>desk@a.test</text></email><url><uri>https://a.test/?a=1&amp;b=2"
                      "</uri></url></vcard>"),
                  "%s", o);
    o = items_of(META_NODE);
    snprintf(want, sizeof(want),
             "<item id='%s'><metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='12' id='%s'"
             " type='image/png'/></metadata></item>",
             photo, photo);
    ck_assert_msg(has(o, want), "%s", o);
    o = items_of("urn:xmpp:avatar:data");
    snprintf(want, sizeof(want),
             "<item id='%s'><data xmlns='urn:xmpp:avatar:data'>"
             "iVBORw0KGgphYmNk</data></item>",
             photo);
    ck_assert_msg(has(o, want), "%s", o);
    /* Asked by item id: that one, or none. */
    o = svcfix_in("<iq type='get' from='x@c.test/r' to='" CH "' id='i2'><pubsub xmlns="
                  "'http://jabber.org/protocol/pubsub'><items node='" NICK_NODE "'>"
                  "<item id='other'/></items></pubsub></iq>");
    ck_assert_msg(has(o, "<items node='" NICK_NODE "'/>"), "%s", o);
    /* Without an avatar: an empty <metadata/> (XEP-0084 4.2), no data. */
    svcfix_sql("UPDATE channel SET avatar = NULL, avatar_type = NULL");
    svcfix_channel_edited("desk");
    o = items_of(META_NODE);
    ck_assert_msg(has(o, "<item id='current'><metadata xmlns='urn:xmpp:avatar:metadata'/></item>"),
                  "%s", o);
    o = items_of("urn:xmpp:avatar:data");
    ck_assert_msg(has(o, "<items node='urn:xmpp:avatar:data'/>"), "%s", o);
    /* The channel's disco#info shows its PEP service (XEP-0163 section 3). */
    o = svcfix_in("<iq type='get' from='x@c.test/r' to='" CH "' id='d1'>"
                  "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    ck_assert_msg(has(o, "<identity category='pubsub' type='pep'/>"), "%s", o);
    ck_assert_msg(has(o, "<feature var='http://jabber.org/protocol/pubsub#subscribe'/>"), "%s", o);
}
END_TEST

#define ERRC(cond) "<" cond " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
#define PSERR(cond) "<" cond " xmlns='http://jabber.org/protocol/pubsub#errors'"

static const char *pubsub_set(const char *from, const char *to, const char *body)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf),
             "<iq type='set' from='%s' to='%s' id='s1'><pubsub xmlns="
             "'http://jabber.org/protocol/pubsub'>%s</pubsub></iq>",
             from, to, body);
    return svcfix_in(buf);
}

static const char *subscribe(const char *from, const char *node, const char *expire)
{
    char body[768], bare[128];
    const char *slash = strchr(from, '/');
    cs_strlcpy(bare, from, slash ? (size_t)(slash - from) + 1 : sizeof(bare));
    if (expire)
        snprintf(body, sizeof(body),
                 "<subscribe node='%s' jid='%s'/><options><x xmlns='jabber:x:data' type='submit'>"
                 "<field var='FORM_TYPE' type='hidden'><value>"
                 "http://jabber.org/protocol/pubsub#subscribe_options</value></field>"
                 "<field var='pubsub#expire'><value>%s</value></field></x></options>",
                 node, bare, expire);
    else
        snprintf(body, sizeof(body), "<subscribe node='%s' jid='%s'/>", node, bare);
    return pubsub_set(from, CH, body);
}

START_TEST(test_bad_requests)
{
    const char *o;
    o = items_of("urn:nope");
    ck_assert_msg(has(o, ERRC("item-not-found")), "%s", o);
    o = svcfix_in("<iq type='get' from='x@c.test/r' to='" CH "' id='i1'><pubsub xmlns="
                  "'http://jabber.org/protocol/pubsub'><items/></pubsub></iq>");
    ck_assert_msg(has(o, ERRC("bad-request")) && has(o, PSERR("nodeid-required")), "%s", o);
    o = svcfix_in("<iq type='get' from='x@c.test/r' to='nosuch@" FIX_DOMAIN "' id='i1'><pubsub "
                  "xmlns='http://jabber.org/protocol/pubsub'><items node='" NICK_NODE
                  "'/></pubsub></iq>");
    ck_assert_msg(has(o, ERRC("service-unavailable")), "%s", o); /* as for any iq there */
    /* Nobody publishes or retracts, not even the owner. */
    o = pubsub_set("o@a.test/pc", CH,
                   "<publish node='" NICK_NODE "'><item><nick xmlns='" NICK_NODE
                   "'>x</nick></item></publish>");
    ck_assert_msg(has(o, ERRC("forbidden")) && has(o, "type='auth'"), "%s", o);
    o = pubsub_set("o@a.test/pc", CH,
                   "<retract node='" NICK_NODE "'><item id='current'/></retract>");
    ck_assert_msg(has(o, ERRC("forbidden")), "%s", o);
    o = svcfix_in("<iq type='set' from='o@a.test/pc' to='" CH "' id='x'><pubsub xmlns="
                  "'http://jabber.org/protocol/pubsub#owner'><delete node='" NICK_NODE
                  "'/></pubsub></iq>");
    ck_assert_msg(has(o, ERRC("forbidden")), "%s", o);
    /* A closed channel's properties are its watchers'. */
    o = svcfix_in("<iq type='get' from='x@c.test/r' to='shut@" FIX_DOMAIN "' id='i1'><pubsub "
                  "xmlns='http://jabber.org/protocol/pubsub'><items node='" NICK_NODE
                  "'/></pubsub></iq>");
    ck_assert_msg(has(o, ERRC("not-authorized")) && has(o, PSERR("presence-subscription-required")),
                  "%s", o);
    o = svcfix_in("<iq type='get' from='w1@b.test/r' to='shut@" FIX_DOMAIN "' id='i1'><pubsub "
                  "xmlns='http://jabber.org/protocol/pubsub'><items node='" NICK_NODE
                  "'/></pubsub></iq>");
    ck_assert_msg(has(o, "<nick xmlns='" NICK_NODE "'>shut</nick>"), "%s", o);
    /* Subscriptions: for oneself only, with a well-formed future expiry. */
    o = pubsub_set("w1@b.test/pc", CH, "<subscribe node='" NICK_NODE "' jid='w2@b.test'/>");
    ck_assert_msg(has(o, ERRC("bad-request")) && has(o, PSERR("invalid-jid")), "%s", o);
    o = subscribe("w1@b.test/pc", NICK_NODE, "tomorrow");
    ck_assert_msg(has(o, ERRC("bad-request")) && has(o, PSERR("invalid-options")), "%s", o);
    o = subscribe("w1@b.test/pc", NICK_NODE, "2026-13-01T00:00:00Z");
    ck_assert_msg(has(o, ERRC("bad-request")), "%s", o);
    o = subscribe("w1@b.test/pc", NICK_NODE, "1969-12-31T23:59:59Z");
    ck_assert_msg(has(o, ERRC("bad-request")) && has(o, "in the past"), "%s", o);
    o = subscribe("w1@b.test/pc", "urn:nope", NULL);
    ck_assert_msg(has(o, ERRC("item-not-found")), "%s", o);
    o = pubsub_set("w1@b.test/pc", CH, "<unsubscribe node='" NICK_NODE "' jid='w1@b.test'/>");
    ck_assert_msg(has(o, ERRC("unexpected-request")) && has(o, PSERR("not-subscribed")), "%s", o);
    /* What the service does not offer, and payloads it does not know. */
    o = svcfix_in("<iq type='get' from='x@c.test/r' to='" CH "' id='g1'><pubsub xmlns="
                  "'http://jabber.org/protocol/pubsub'><subscriptions/></pubsub></iq>");
    ck_assert_msg(has(o, ERRC("feature-not-implemented")) &&
                      has(o, "<unsupported xmlns='http://jabber.org/protocol/pubsub#errors'"
                             " feature='retrieve-subscriptions'/>"),
                  "%s", o);
    o = svcfix_in("<iq type='get' from='x@c.test/r' to='" CH "' id='g2'><pubsub xmlns="
                  "'http://jabber.org/protocol/pubsub'><nonsense/></pubsub></iq>");
    ck_assert_msg(has(o, ERRC("bad-request")), "%s", o);
    o = pubsub_set("w1@b.test/pc", CH,
                   "<subscribe node='" NICK_NODE "' jid='w1@b.test'/><options><x xmlns="
                   "'jabber:x:data' type='form'/></options>");
    ck_assert_msg(has(o, ERRC("bad-request")) && has(o, PSERR("invalid-options")), "%s", o);
    /* An event to the domain from anybody but a remote channel's home:
     * dropped, never answered (a headline). */
    o = svcfix_in("<message type='headline' from='mallory@c.test/r' to='" FIX_DOMAIN "'>"
                  "<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='" NICK_NODE
                  "'><item id='current'><nick xmlns='" NICK_NODE "'>x</nick></item></items>"
                  "</event></message>");
    ck_assert_str_eq(o, "");
    ck_assert_int_eq(svcfix_int("SELECT count(*) FROM prop_subscription"), 0);
}
END_TEST

START_TEST(test_subscription_lease)
{
    const char *o;
    /* F.now_ms is the wall time too (no clock): now is 1,000 s. */
    o = subscribe("x@c.test/pc", NICK_NODE, NULL);
    ck_assert_msg(has(o, "<subscription node='" NICK_NODE "' jid='x@c.test' subscription="
                         "'subscribed' expiry='1970-01-01T01:16:40Z'/>"),
                  "%s", o);
    /* The current item follows the answer, to the bare JID. */
    ck_assert_msg(has(o, "<message to='x@c.test' from='" CH "' type='headline'><event xmlns="
                         "'http://jabber.org/protocol/pubsub#event'><items node='" NICK_NODE
                         "'><item id='current'><nick"),
                  "%s", o);
    ck_assert_msg(strstr(o, "<iq") < strstr(o, "<message"), "the event before the answer: %s", o);
    ck_assert_int_eq(svcfix_int("SELECT expires FROM prop_subscription WHERE jid = 'x@c.test'"),
                     4600);
    /* A few seconds, as asked; more than the maximum is cut to it. */
    o = subscribe("y@c.test/pc", NICK_NODE, "1970-01-01T00:16:45Z");
    ck_assert_msg(has(o, "expiry='1970-01-01T00:16:45Z'"), "%s", o);
    o = subscribe("z@c.test/pc", NICK_NODE, "2099-01-01T00:00:00+01:00");
    ck_assert_msg(has(o, "expiry='1970-01-02T00:16:40Z'"), "%s", o);
    /* An edit: one event per subscriber whose lease runs. */
    svcfix_sql("UPDATE channel SET display_name = 'Desk'");
    o = svcfix_channel_edited("desk");
    ck_assert_uint_eq(count(o, "<nick xmlns='" NICK_NODE "'>Desk</nick>"), 3);
    F.now_ms += 6000; /* y's five seconds are over */
    svcfix_sql("UPDATE channel SET display_name = 'Desk 2'");
    o = svcfix_channel_edited("desk");
    ck_assert_uint_eq(count(o, "Desk 2</nick>"), 2);
    ck_assert_msg(!has(o, "to='y@c.test'"), "%s", o);
    /* Unsubscribed: no more events. */
    o = pubsub_set("x@c.test/pc", CH, "<unsubscribe node='" NICK_NODE "' jid='x@c.test'/>");
    ck_assert_msg(has(o, "type='result'"), "%s", o);
    svcfix_sql("UPDATE channel SET display_name = 'Desk 3'");
    o = svcfix_channel_edited("desk");
    ck_assert_uint_eq(count(o, "Desk 3</nick>"), 1);
    ck_assert_msg(has(o, "to='z@c.test'"), "%s", o);
    /* A text edit is news for the vCard4 node only. */
    o = subscribe("z@c.test/pc", "urn:xmpp:vcard4", NULL);
    svcfix_sql("UPDATE channel SET description = 'new'");
    o = svcfix_channel_edited("desk");
    ck_assert_uint_eq(count(o, "<message"), 1);
    ck_assert_msg(has(o, "<note><text>new</text></note>"), "%s", o);
    /* The owner's watchers command shows the leases with their seconds
     * left (XEP-0050). */
    o = svcfix_in("<iq type='set' from='o@a.test/pc' to='" CH "' id='c1'><command xmlns="
                  "'http://jabber.org/protocol/commands' node='urn:chanstat:cmd:watchers'"
                  " action='execute'/></iq>");
    ck_assert_msg(has(o, "<field var='property-subscriptions' type='text-multi' label='Property "
                         "subscriptions (2): JID, node, seconds left'><value>z@c.test " NICK_NODE
                         " 86394 s</value><value>z@c.test urn:xmpp:vcard4 3600 s"
                         "</value></field>"),
                  "%s", o);
    /* Expired rows go at the next purge. */
    F.now_ms += 2 * 86400 * 1000LL;
    home_tick(F.home, F.now_ms);
    ck_assert_int_eq(svcfix_int("SELECT count(*) FROM prop_subscription"), 0);
}
END_TEST

START_TEST(test_subscription_limits)
{
    const char *o;
    struct pep_limits lim = {.lease_default_s = 60, .lease_max_s = 60, .max_subscriptions = 2};
    home_use_props(F.home, F.props, F.subs, &lim);
    ck_assert_msg(has(subscribe("a@c.test/r", NICK_NODE, NULL), "subscribed"), "first");
    ck_assert_msg(has(subscribe("b@c.test/r", NICK_NODE, NULL), "subscribed"), "second");
    o = subscribe("c@c.test/r", NICK_NODE, NULL);
    ck_assert_msg(has(o, ERRC("resource-constraint")) && has(o, "type='wait'"), "%s", o);
    /* A renewal takes no new row. */
    ck_assert_msg(has(subscribe("b@c.test/r", NICK_NODE, NULL), "subscribed"), "renewal");
    ck_assert_int_eq(svcfix_int("SELECT count(*) FROM prop_subscription"), 2);
}
END_TEST

START_TEST(test_subscription_flood)
{
    /* The presence subscription limit: the fixture's burst is 1,000. */
    unsigned refused = 0;
    for (int i = 0; i < 1010; i++)
        if (has(subscribe("f@c.test/r", NICK_NODE, NULL), ERRC("resource-constraint")))
            refused++;
    ck_assert_uint_ge(refused, 9);
    ck_assert_uint_le(refused, 10);
}
END_TEST

/* ---- Capabilities ---- */

#define FEATURES_NICK                                                                              \
    "<identity category='client' type='pc' name='T'/>"                                             \
    "<feature var='http://jabber.org/protocol/caps'/>"                                             \
    "<feature var='" NICK_NODE "+notify'/>"

static char ver_nick[CAPSVER_LEN];

static void caps_setup(void)
{
    props_setup();
    ck_assert_int_eq(
        ver_of_xml("<query xmlns='http://jabber.org/protocol/disco#info'>" FEATURES_NICK "</query>",
                   ver_nick),
        0);
}

static const char *presence_with(const char *from, const char *ver)
{
    char buf[512];
    snprintf(buf, sizeof(buf),
             "<presence from='%s' to='" CH "'><c xmlns='http://jabber.org/protocol/caps'"
             " hash='sha-1' node='" CAPS_NODE "' ver='%s'/></presence>",
             from, ver);
    return svcfix_in(buf);
}

/* The id of the disco#info get in out (static). */
static const char *asked_id(const char *out)
{
    static char id[64];
    const char *p = strstr(out, "type='get' id='cp");
    const char *i = p ? strstr(p, " id='") : NULL; /* the iq's own */
    ck_assert_ptr_nonnull(i);
    i += 5;
    cs_strlcpy(id, i, (size_t)(strchr(i, '\'') - i) + 1);
    return id;
}

static const char *answer(const char *from, const char *id, const char *ver, const char *body)
{
    char buf[1024];
    snprintf(buf, sizeof(buf),
             "<iq type='result' from='%s' to='" CH "' id='%s'><query xmlns="
             "'http://jabber.org/protocol/disco#info' node='" CAPS_NODE "#%s'>%s</query></iq>",
             from, id, ver, body);
    return svcfix_in(buf);
}

START_TEST(test_caps_once_per_ver)
{
    const char *o;
    char id[64];
    o = presence_with("w1@b.test/pc", ver_nick);
    ck_assert_uint_eq(count(o, "type='get' id='cp"), 1);
    ck_assert_msg(has(o, "to='w1@b.test/pc'") && has(o, "node='" CAPS_NODE "#"), "%s", o);
    cs_strlcpy(id, asked_id(o), sizeof(id));
    /* The same 'ver' from another watcher: not asked again. */
    o = presence_with("w2@b.test/phone", ver_nick);
    ck_assert_uint_eq(count(o, "<iq"), 0);
    /* A stranger's presence is no watcher's: nothing kept, nothing asked. */
    o = presence_with("x@c.test/pc", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    ck_assert_uint_eq(count(o, "<iq"), 0);
    /* The answer: both resources get the nick item (and nothing else). */
    o = answer("w1@b.test/pc", id, ver_nick, FEATURES_NICK);
    ck_assert_uint_eq(count(o, "<message"), 2);
    ck_assert_msg(has(o, "to='w1@b.test/pc'") && has(o, "to='w2@b.test/phone'"), "%s", o);
    ck_assert_uint_eq(count(o, "<items node='" NICK_NODE "'>"), 2);
    /* Known now: a new resource gets its items at once, no question. */
    o = presence_with("w3@b.test/x", ver_nick);
    ck_assert_uint_eq(count(o, "<iq"), 0);
    ck_assert_uint_eq(count(o, "<message to='w3@b.test/x'"), 1);
    ck_assert_uint_eq(pep_stats(home_pep(F.home))->caps_lookups, 1);
    /* An edit: events to the +notify resources only. */
    svcfix_sql("UPDATE channel SET display_name = 'D'");
    o = svcfix_channel_edited("desk");
    ck_assert_uint_eq(count(o, "<message"), 3);
    /* A resource gone: no more events to it. */
    svcfix_in("<presence from='w2@b.test/phone' to='" CH "' type='unavailable'/>");
    svcfix_sql("UPDATE channel SET display_name = 'E'");
    o = svcfix_channel_edited("desk");
    ck_assert_uint_eq(count(o, "<message"), 2);
    ck_assert_msg(!has(o, "w2@b.test"), "%s", o);
    /* A watcher no longer: nothing. */
    svcfix_sql("DELETE FROM roster WHERE jid = 'w3@b.test'");
    svcfix_in("<presence from='w3@b.test' to='" CH "' type='unsubscribe'/>");
    svcfix_sql("UPDATE channel SET display_name = 'F'");
    o = svcfix_channel_edited("desk");
    ck_assert_msg(!has(o, "w3@b.test/x"), "%s", o);
}
END_TEST

START_TEST(test_caps_unverified)
{
    const char *o;
    const char *fake = "ZZZZZZZZZZZZZZZZZZZZZZZZZZZ=";
    char id[64];
    /* Features that do not hash to the 'ver' announced: good for the one
     * that answered, never for others announcing the same 'ver'. */
    o = presence_with("w1@b.test/pc", fake);
    cs_strlcpy(id, asked_id(o), sizeof(id));
    presence_with("w2@b.test/pc", fake);
    o = answer("w1@b.test/pc", id, fake, FEATURES_NICK);
    ck_assert_uint_eq(count(o, "<message"), 1);
    ck_assert_msg(has(o, "to='w1@b.test/pc'"), "%s", o);
    ck_assert_uint_eq(pep_stats(home_pep(F.home))->caps_unverified, 1);
    /* Not asked again right away. */
    o = presence_with("w3@b.test/pc", fake);
    ck_assert_uint_eq(count(o, "<iq"), 0);
    /* A forged answer (another sender) is no answer. */
    o = presence_with("w1@b.test/other", ver_nick);
    cs_strlcpy(id, asked_id(o), sizeof(id));
    o = answer("w2@b.test/pc", id, ver_nick, FEATURES_NICK);
    ck_assert_uint_eq(count(o, "<message"), 0);
}
END_TEST

START_TEST(test_caps_flood)
{
    /* One resource announcing 100 'ver's in a row: 32 questions at once,
     * the rest wait; when the answers time out only the 'ver' it still
     * announces is asked, the others are dropped unasked. */
    unsigned asked = 0;
    char ver[CAPSVER_LEN];
    const char *o;
    for (int i = 0; i < 100; i++) {
        snprintf(ver, sizeof(ver), "%026dA=", i);
        asked += count(presence_with("w1@b.test/pc", ver), "type='get' id='cp");
    }
    ck_assert_uint_eq(asked, PEP_CAPS_INFLIGHT);
    F.now_ms += PEP_CAPS_TIMEOUT_MS;
    F.out.buf.len = 0;
    iqwait_expire(F.iqwait, F.now_ms);
    strbuf_append(&F.out.buf, "", 0);
    o = F.out.buf.data;
    ck_assert_uint_eq(count(o, "type='get' id='cp"), 1);
    ck_assert_msg(has(o, "node='" CAPS_NODE "#00000000000000000000000099A='"), "%s", o);
    ck_assert_uint_eq(pep_stats(home_pep(F.home))->caps_lookups, PEP_CAPS_INFLIGHT + 1);
}
END_TEST

/* ---- XEP-0153 ---- */

START_TEST(test_photo_in_presence)
{
    const char *o;
    char want[128];
    svcfix_online();
    /* The owner comes online: every watcher sees the hash. */
    o = svcfix_in("<presence from='o@a.test/pc' to='" CH "'/>");
    snprintf(want, sizeof(want), "<x xmlns='vcard-temp:x:update'><photo>%s</photo></x>", photo);
    ck_assert_uint_eq(count(o, want), 3);
    /* A new avatar: the status again, with the new hash. */
    svcfix_sql("UPDATE channel SET avatar = x'ffd8ff0000000000', avatar_type = 'image/jpeg'");
    o = svcfix_channel_edited("desk");
    ck_assert_uint_eq(count(o, "<presence"), 3);
    ck_assert_msg(!has(o, photo) && has(o, "<photo>"), "%s", o);
    /* Other edits do not repeat the status. */
    svcfix_sql("UPDATE channel SET url = NULL");
    o = svcfix_channel_edited("desk");
    ck_assert_uint_eq(count(o, "<presence"), 0);
    /* No avatar: an empty photo. */
    svcfix_sql("UPDATE channel SET avatar = NULL, avatar_type = NULL");
    o = svcfix_channel_edited("desk");
    ck_assert_uint_eq(count(o, "<x xmlns='vcard-temp:x:update'><photo/></x>"), 3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("props");
    TCase *tc = tcase_create("core");
    TCase *tp = tcase_create("pep");
    TCase *tk = tcase_create("caps");
    tcase_add_test(tc, test_capsver_examples);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(tp, props_setup, svcfix_teardown);
    tcase_add_test(tp, test_items);
    tcase_add_test(tp, test_bad_requests);
    tcase_add_test(tp, test_subscription_lease);
    tcase_add_test(tp, test_subscription_limits);
    tcase_add_test(tp, test_subscription_flood);
    tcase_add_test(tp, test_photo_in_presence);
    suite_add_tcase(s, tp);
    tcase_add_checked_fixture(tk, caps_setup, svcfix_teardown);
    tcase_add_test(tk, test_caps_once_per_ver);
    tcase_add_test(tk, test_caps_unverified);
    tcase_add_test(tk, test_caps_flood);
    suite_add_tcase(s, tk);
    return test_run_suite(s);
}
