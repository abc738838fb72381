/* check_jid.c - JID parsing and normalisation (RFC 7622). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_jid.h"
#include "testutil.h"

static const struct {
    const char *in;
    const char *local, *domain, *resource; /* expected normalised parts */
} valid[] = {
    {"alice@a.test", "alice", "a.test", NULL},
    {"Alice@A.Test/Phone", "alice", "a.test", "Phone"},
    {"a.test", NULL, "a.test", NULL},
    {"a.test/res/with/slashes", NULL, "a.test", "res/with/slashes"},
    {"a.test.", NULL, "a.test", NULL},
    {"u@[::1]", "u", "[::1]", NULL},
    {"juliet@example.com/foo@bar", "juliet", "example.com", "foo@bar"},
    {"\xc3\xa9lise@example.com", "\xc3\xa9lise", "example.com", NULL},
    {"x@status.a.test/ r e s ", "x", "status.a.test", " r e s "},
    {"alice\\40a.test@status.a.test", "alice\\40a.test", "status.a.test", NULL},
};

static const char *const invalid[] = {
    "",
    "@a.test",
    "alice@",
    "alice@a.test/",
    "a@b@c",
    "a b@c",
    "a\"b@c",
    "a&b@c",
    "a'b@c",
    "a:b@c",
    "a<b@c",
    "a>b@c",
    "a@b c",
    "a@.b",
    "a@b..c",
    "a@[zz]",
    "a@b/\x01",
    "\xc3@b",          /* truncated UTF-8 */
    "\xc0\xaf@b",      /* overlong */
    "\xed\xa0\x80@b",  /* surrogate */
    "\xf5\x80\x80\x80@b",
    "a\x7f@b",
};

START_TEST(test_valid)
{
    struct jid j;
    ck_assert_int_eq(jid_parse(valid[_i].in, &j), 0);
    if (valid[_i].local)
        ck_assert_str_eq(j.local, valid[_i].local);
    else
        ck_assert_ptr_null(j.local);
    ck_assert_str_eq(j.domain, valid[_i].domain);
    if (valid[_i].resource)
        ck_assert_str_eq(j.resource, valid[_i].resource);
    else
        ck_assert_ptr_null(j.resource);
    jid_deinit(&j);
    ck_assert_ptr_null(j.buf);
}
END_TEST

START_TEST(test_invalid)
{
    struct jid j;
    ck_assert_msg(jid_parse(invalid[_i], &j) == CS_EINVAL, "accepted '%s'", invalid[_i]);
    ck_assert_ptr_null(j.buf);
}
END_TEST

START_TEST(test_lengths)
{
    /* RFC 7622 3.1: every part at most 1023 bytes. */
    char buf[4000];
    struct jid j;
    memset(buf, 'a', 1023);
    memcpy(buf + 1023, "@d.test", 8);
    ck_assert_int_eq(jid_parse(buf, &j), 0);
    jid_deinit(&j);
    memset(buf, 'a', 1024);
    memcpy(buf + 1024, "@d.test", 8);
    ck_assert_int_eq(jid_parse(buf, &j), CS_EINVAL);
    memcpy(buf, "u@d.test/", 10);
    memset(buf + 9, 'r', 1024);
    buf[9 + 1024] = '\0';
    ck_assert_int_eq(jid_parse(buf, &j), CS_EINVAL);
    buf[9 + 1023] = '\0';
    ck_assert_int_eq(jid_parse(buf, &j), 0);
    jid_deinit(&j);
    ck_assert_int_eq(jid_parse(NULL, &j), CS_EINVAL);
}
END_TEST

START_TEST(test_forms)
{
    struct jid a, b;
    ck_assert_int_eq(jid_parse("Bob@B.test/Res", &a), 0);
    ck_assert_int_eq(jid_parse("bob@b.test", &b), 0);
    char *bare = jid_bare(&a), *full = jid_full(&a);
    ck_assert_str_eq(bare, "bob@b.test");
    ck_assert_str_eq(full, "bob@b.test/Res");
    ck_assert(jid_bare_eq(&a, &b));
    free(bare);
    free(full);
    jid_deinit(&b);
    ck_assert_int_eq(jid_parse("b.test", &b), 0);
    ck_assert(!jid_bare_eq(&a, &b));
    bare = jid_bare(&b);
    ck_assert_str_eq(bare, "b.test");
    free(bare);
    jid_deinit(&a);
    jid_deinit(&b);
}
END_TEST

/* XEP-0106 section 5 (examples): unescaped localpart, escaped localpart. */
static const struct {
    const char *plain, *escaped;
} xep0106[] = {
    {"space cadet", "space\\20cadet"},
    {"call me \"ishmael\"", "call\\20me\\20\\22ishmael\\22"},
    {"at&t guy", "at\\26t\\20guy"},
    {"d'artagnan", "d\\27artagnan"},
    {"/.fanboy", "\\2f.fanboy"},
    {"::foo::", "\\3a\\3afoo\\3a\\3a"},
    {"<foo>", "\\3cfoo\\3e"},
    {"user@host", "user\\40host"},
    {"c:\\net", "c\\3a\\net"},
    {"c:\\\\net", "c\\3a\\\\net"},
    {"c:\\cool stuff", "c\\3a\\cool\\20stuff"},
    {"c:\\5commas", "c\\3a\\5c5commas"},
    {"alice@a.test", "alice\\40a.test"},
    {"plain", "plain"},
};

START_TEST(test_xep0106)
{
    char *e = jid_escape_local(xep0106[_i].plain);
    char *u = jid_unescape_local(xep0106[_i].escaped);
    ck_assert_str_eq(e, xep0106[_i].escaped);
    ck_assert_str_eq(u, xep0106[_i].plain);
    /* The escaped form is a valid localpart. */
    ck_assert_int_eq(jid_check_local(e, strlen(e)), 0);
    free(e);
    free(u);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jid");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_valid, 0, (int)(sizeof(valid) / sizeof(valid[0])));
    tcase_add_loop_test(tc, test_invalid, 0, (int)(sizeof(invalid) / sizeof(invalid[0])));
    tcase_add_test(tc, test_lengths);
    tcase_add_test(tc, test_forms);
    tcase_add_loop_test(tc, test_xep0106, 0, (int)(sizeof(xep0106) / sizeof(xep0106[0])));
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
