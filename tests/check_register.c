/* check_register.c - XEP-0077 in-band registration: the form, creating a
 * channel the registrant owns, every error, the limits, removal. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svcfix.h"
#include "testutil.h"

#define D FIX_DOMAIN
#define NS "jabber:iq:register"

#define ck_has(hay, needle)                                                                        \
    do {                                                                                           \
        const char *h_ = (hay);                                                                    \
        ck_assert_msg(strstr(h_, needle) != NULL, "'%s' lacks '%s'", h_, needle);                  \
    } while (0)
#define ck_lacks(hay, needle)                                                                      \
    do {                                                                                           \
        const char *h_ = (hay);                                                                    \
        ck_assert_msg(strstr(h_, needle) == NULL, "'%s' has '%s'", h_, needle);                    \
    } while (0)

#define ERR(type, cond)                                                                            \
    "<error type='" type "'><" cond " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"

static void setup(void)
{
    svcfix_setup();
    F.opts.registration = true;
    F.opts.max_channels_per_owner = 2;
    svcfix_configure(NULL, NULL);
    svcfix_sql("INSERT INTO channel (name, owner, policy) VALUES ('taken', 'else@a.test', 'open')");
}

static const char *get(const char *from)
{
    static struct strbuf sb;
    sb.len = 0;
    strbuf_printf(&sb, "<iq type='get' id='g1' from='%s' to='" D "'><query xmlns='" NS "'/></iq>",
                  from);
    return svcfix_in(sb.data);
}

/* An iq set with this query content. */
static const char *set(const char *from, const char *content)
{
    static struct strbuf sb;
    sb.len = 0;
    strbuf_printf(
        &sb, "<iq type='set' id='s1' from='%s' to='" D "'><query xmlns='" NS "'>%s</query></iq>",
        from, content);
    return svcfix_in(sb.data);
}

static const char *owner_of(const char *name)
{
    static char q[128];
    snprintf(q, sizeof(q), "SELECT owner FROM channel WHERE name = '%s'", name);
    return svcfix_text(q);
}

START_TEST(test_disabled)
{
    /* Off: not advertised, and XEP-0077 section 3.1: service-unavailable. */
    F.opts.registration = false;
    svcfix_configure(NULL, NULL);
    ck_lacks(svcfix_in("<iq type='get' id='d1' from='u@a.test/r' to='" D "'>"
                       "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>"),
             NS);
    ck_assert_str_eq(get("u@a.test/r"),
                     "<iq from='" D "' to='u@a.test/r' id='g1' type='error'>"
                     "<query xmlns='" NS
                     "'/>" ERR("cancel", "service-unavailable") "</error></iq>\n");
    ck_has(set("u@a.test/r", "<username>mine</username>"), "<service-unavailable ");
    ck_assert_str_eq(owner_of("mine"), "absent");
}
END_TEST

START_TEST(test_form_and_register)
{
    const char *o;
    ck_has(svcfix_in("<iq type='get' id='d1' from='u@a.test/r' to='" D "'>"
                     "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>"),
           "<feature var='" NS "'/>");
    /* Not registered: instructions and the one field, the channel name. */
    ck_assert_str_eq(get("u@a.test/r"),
                     "<iq from='" D "' to='u@a.test/r' id='g1' type='result'><query xmlns='" NS "'>"
                     "<instructions>Choose a channel name: the channel NAME@" D " will be yours, "
                     "and your presence its status.</instructions><username/></query></iq>\n");
    /* Registering creates the channel owned by the bare JID, and binding
     * starts at once: the channel asks its new owner for presence. */
    o = set("u@a.test/r", "<username>Mine</username><password>ignored</password>");
    ck_assert_str_eq(o, "<presence from='mine@" D "' to='u@a.test' type='subscribe'/>\n"
                        "<iq from='" D "' to='u@a.test/r' id='s1' type='result'/>\n");
    ck_assert_str_eq(owner_of("mine"), "u@a.test");
    ck_assert_str_eq(svcfix_text("SELECT policy FROM channel WHERE name = 'mine'"), "open");
    ck_assert_uint_eq(F.svc.stats.registrations, 1);
    /* Now registered: <registered/> and the name. */
    ck_assert_str_eq(get("u@a.test/other"),
                     "<iq from='" D "' to='u@a.test/other' id='g1' type='result'><query xmlns='" NS
                     "'><registered/><instructions>You own mine@" D ". Send another name to "
                     "register one more (at most 2), or remove to remove all of them."
                     "</instructions><username>mine</username></query></iq>\n");
    /* The same name again: nothing to do. */
    ck_assert_str_eq(set("u@a.test/r", "<username>mine</username>"),
                     "<iq from='" D "' to='u@a.test/r' id='s1' type='result'/>\n");
    /* The channel works: the owner approves, a watcher subscribes. */
    svcfix_in("<presence from='u@a.test' to='mine@" D "' type='subscribed'/>");
    ck_has(svcfix_in("<presence from='w@b.test/r' to='mine@" D "' type='subscribe'/>"),
           "<presence from='mine@" D "' to='w@b.test' type='subscribed'/>");
}
END_TEST

START_TEST(test_errors)
{
    /* XEP-0077 section 3.1: a taken name is a conflict ... */
    ck_has(set("u@a.test/r", "<username>taken</username>"), ERR("cancel", "conflict"));
    ck_assert_str_eq(owner_of("taken"), "else@a.test");
    /* ... a missing or unusable name is not acceptable ... */
    ck_has(set("u@a.test/r", ""), ERR("modify", "not-acceptable"));
    ck_has(set("u@a.test/r", "<username/>"), ERR("modify", "not-acceptable"));
    ck_has(set("u@a.test/r", "<username>a b</username>"), ERR("modify", "not-acceptable"));
    ck_has(set("u@a.test/r", "<username>a@b</username>"), ERR("modify", "not-acceptable"));
    ck_has(set("u@a.test/r", "<username>a/b</username>"), ERR("modify", "not-acceptable"));
    /* ... as is a name that reads as a relay address (an escaped '@'). */
    ck_has(set("u@a.test/r", "<username>dave\\40a.test</username>"),
           ERR("modify", "not-acceptable"));
    ck_has(set("u@a.test/r", "<username>\\40a.test</username>"), ERR("modify", "not-acceptable"));
    /* Malformed: two names, a name with markup, a data form, remove with more. */
    ck_has(set("u@a.test/r", "<username>a</username><username>b</username>"),
           ERR("modify", "bad-request"));
    ck_has(set("u@a.test/r", "<username><b>x</b></username>"), ERR("modify", "bad-request"));
    ck_has(set("u@a.test/r", "<x xmlns='jabber:x:data' type='submit'/>"),
           ERR("modify", "bad-request"));
    ck_has(set("u@a.test/r", "<remove/><username>x</username>"), ERR("modify", "bad-request"));
    /* None of it created anything. */
    ck_assert_int_eq(svcfix_int("SELECT count(*) FROM channel"), 1);
    /* Errors echo the request (RFC 6120 8.3.1). */
    ck_assert_str_eq(set("u@a.test/r", "<username>a b</username>"),
                     "<iq from='" D "' to='u@a.test/r' id='s1' type='error'><query xmlns='" NS
                     "'><username>a b</username></query><error type='modify'><not-acceptable "
                     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
                     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>not a valid "
                     "channel name: a JID localpart without an escaped '@'</text></error></iq>\n");
}
END_TEST

START_TEST(test_limits)
{
    /* At most max_channels_per_owner, counting channels an admin gave. */
    svcfix_sql("INSERT INTO channel (name, owner) VALUES ('given', 'u@a.test')");
    ck_has(set("u@a.test/r", "<username>one</username>"), "type='result'");
    ck_has(set("u@a.test/r", "<username>two</username>"), ERR("cancel", "not-allowed"));
    ck_assert_str_eq(owner_of("two"), "absent");
    ck_has(get("u@a.test/r"), "Send remove to remove all of them.");
    /* Only from listed domains, when some are listed. */
    svcfix_configure(NULL, "a.test c.test");
    ck_has(set("v@b.test/r", "<username>bee</username>"), ERR("cancel", "not-allowed"));
    ck_has(get("v@b.test/r"), ERR("cancel", "not-allowed"));
    ck_has(set("v@c.test/r", "<username>cee</username>"), "type='result'");
    ck_assert_str_eq(owner_of("cee"), "v@c.test");
    /* Never a domain JID (it cannot approve the binding) or our own. */
    svcfix_configure(NULL, NULL);
    ck_has(set("b.test", "<username>dom</username>"), ERR("cancel", "not-allowed"));
    ck_has(set("x@" D "/r", "<username>self</username>"), ERR("cancel", "not-allowed"));
    ck_assert_int_eq(svcfix_int("SELECT count(*) FROM channel WHERE name IN ('dom', 'self')"), 0);
}
END_TEST

START_TEST(test_remove)
{
    const char *o;
    svcfix_sql("INSERT INTO channel (name, owner) VALUES ('given', 'u@a.test')");
    ck_has(set("u@a.test/r", "<username>mine</username>"), "type='result'");
    svcfix_in("<presence from='w@b.test/r' to='mine@" D "' type='subscribe'/>");
    /* Removal takes every channel of the registrant; watchers are told. */
    o = set("u@a.test/r", "<remove/>");
    ck_has(o, "<presence from='mine@" D "' to='w@b.test' type='unsubscribed'/>\n"
              "<presence from='mine@" D "' to='w@b.test' type='unavailable'/>\n");
    ck_has(o, "<presence from='mine@" D "' to='u@a.test' type='unsubscribe'/>\n"
              "<presence from='mine@" D "' to='u@a.test' type='unsubscribed'/>\n");
    ck_has(o, "<presence from='given@" D "' to='u@a.test' type='unsubscribe'/>");
    ck_has(o, "<iq from='" D "' to='u@a.test/r' id='s1' type='result'/>\n");
    ck_assert_int_eq(svcfix_int("SELECT count(*) FROM channel WHERE owner = 'u@a.test'"), 0);
    ck_assert_int_eq(svcfix_int("SELECT count(*) FROM roster WHERE channel = 'mine'"), 0);
    ck_assert_str_eq(owner_of("taken"), "else@a.test");
    /* Nothing left: XEP-0077 section 3.2, registration-required. */
    ck_has(set("u@a.test/r", "<remove/>"), ERR("auth", "registration-required"));
    /* The name is free again. */
    ck_has(set("v@a.test/r", "<username>mine</username>"), "type='result'");
    ck_assert_str_eq(owner_of("mine"), "v@a.test");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("register");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, svcfix_teardown);
    tcase_add_test(tc, test_disabled);
    tcase_add_test(tc, test_form_and_register);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_remove);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
