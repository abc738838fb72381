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
    /* stringprep as the servers apply it (jidprep.c, check_jidprep.c) */
    {"M\xc3\xbcller@A.test", "m\xc3\xbcller", "a.test", NULL},
    {"M\xc3\x9cLLER@B\xc3\x9c"
     "CHER.test/M\xc3\x9cLLER",
     "m\xc3\xbcller",
     "b\xc3\xbc"
     "cher.test",
     "M\xc3\x9cLLER"},
    {"\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3@a.test/\xef\xbc\xa1", "abc", "a.test", "A"},
    {"stra\xc3\x9f"
     "e@a.test",
     "strasse", "a.test", NULL},
    {"a\xc2\xad"
     "b@a.test.",
     "ab", "a.test", NULL},
    {"\xd7\x90\xd7\x91@a.test", "\xd7\x90\xd7\x91", "a.test", NULL},
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
    "y..", /* two trailing dots: an empty last label (found by fuzz_jid) */
    "a@b.c../r",
    "a@[zz]",
    "a@b/\x01",
    "\xc3@b",         /* truncated UTF-8 */
    "\xc0\xaf@b",     /* overlong */
    "\xed\xa0\x80@b", /* surrogate */
    "\xf5\x80\x80\x80@b",
    "a\x7f@b",
    "\xef\xbc\xa0x@a.test", /* fullwidth @: nodeprep makes it '@' */
    "a\xc2\xa0"
    "b@a.test", /* no-break space */
    "\xd7\x90"
    "a@a.test",              /* RandALCat and LCat */
    "1\xd7\x90@a.test",      /* RandALCat not first */
    "\xc2\xad@a.test",       /* prepared to nothing */
    "a@b\xef\xbc\x8e",       /* a fullwidth dot prepares to a trailing dot */
    "a@x\xef\xbc\xa0y.test", /* and a fullwidth @ to '@' */
    "a@a.test/\xe2\x80\xae", /* RLO in a resource */
    "a@a.test/\xee\x80\x80", /* private use */
    "a\xef\xbf\xbd@a.test",  /* U+FFFD */
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

/* Relay addresses: every case a peer can write has one defined result. */
static const struct {
    const char *local;
    int result;
    const char *bare; /* the contact when result == 0 */
} relay[] = {
    {"alice\\40a.test", 0, "alice@a.test"},
    {"Alice\\40A.Test", 0, "alice@a.test"}, /* localparts are case-folded */
    {"\\40c.test", 0, "c.test"},            /* a contact without localpart */
    {"\\40C.test", 0, "c.test"},
    {"a\\b\\40c.test", 0, "a\\b@c.test"}, /* a stray backslash stays */
    {"a\\5c40\\40c.test", 0, "a\\40@c.test"},
    {"a\\5C40\\40c.test", 0, "a\\40@c.test"}, /* folded to \5c first */
    {"x\\\\40y.test", 0, "x\\@y.test"},       /* contact localpart "x\" */
    {"\\5c5c\\40c.test", 0, "\\5c@c.test"},
    {"a\\40[\\3a\\3a1]", 0, "a@[::1]"},
    {"\\40[\\3a\\3a1]", 0, "[::1]"},
    {"\xc3\xa9lise\\40e.test", 0, "\xc3\xa9lise@e.test"},
    /* No escaped '@': a channel name. */
    {"c.test", CS_ENOTFOUND, NULL},
    {"plain", CS_ENOTFOUND, NULL},
    {"a\\2fb", CS_ENOTFOUND, NULL},
    {"a\\20b", CS_ENOTFOUND, NULL},
    {"a\\5c40b", CS_ENOTFOUND, NULL}, /* an escaped backslash, then "40" */
    {"a\\b", CS_ENOTFOUND, NULL},
    {"a\\", CS_ENOTFOUND, NULL},
    {"a\\4", CS_ENOTFOUND, NULL},
    {"\\", CS_ENOTFOUND, NULL},
    {"a\\4O", CS_ENOTFOUND, NULL},
    /* Relay addresses that name no bare JID. */
    {"AAAA\\2fx\\40c", CS_EINVAL, NULL},   /* "aaaa/x@c": no localpart, a resource */
    {"a\\40b.org\\2fr", CS_EINVAL, NULL},  /* a resource */
    {"x\\2Fy\\40c.test", CS_EINVAL, NULL}, /* \2F folds to \2f: "x/y@c.test" */
    {"\\2f\\40c.test", CS_EINVAL, NULL},
    {"a\\40b.test\\", CS_EINVAL, NULL}, /* trailing backslash in the domain */
    {"a\\40b.test\\4", CS_EINVAL, NULL},
    {"a\\40b.test\\5c", CS_EINVAL, NULL},
    {"a\\40", CS_EINVAL, NULL},
    {"\\40", CS_EINVAL, NULL},
    {"\\40\\40c.test", CS_EINVAL, NULL},
    {"a\\40b\\40c.test", CS_EINVAL, NULL}, /* several '@' */
    {"a\\40b.test\\40", CS_EINVAL, NULL},
    {"\\40a\\40c.test", CS_EINVAL, NULL},  /* the domain form with a localpart */
    {"a\\20b\\40c.test", CS_EINVAL, NULL}, /* a space in the contact's localpart */
    {"a\\3ab\\40c.test", CS_EINVAL, NULL},
    {"a\\40b\\20c.test", CS_EINVAL, NULL},
    /* Not the one form jid_relay_address() writes. */
    {"a\\5cb\\40c.test", CS_EINVAL, NULL}, /* \5c where "\" would do */
    {"a\\40b.test.", CS_EINVAL, NULL},     /* trailing dot */
    {"\\40c.test.", CS_EINVAL, NULL},
    /* Not a localpart at all. */
    {"", CS_EINVAL, NULL},
    {"a@b", CS_EINVAL, NULL},
    {"a b\\40c.test", CS_EINVAL, NULL},
    {"\xc3\\40c.test", CS_EINVAL, NULL}, /* bad UTF-8 */
    {"a\x01\\40c.test", CS_EINVAL, NULL},
};

START_TEST(test_relay_parse)
{
    struct jid j;
    int r = jid_relay_parse(relay[_i].local, &j);
    ck_assert_msg(r == relay[_i].result, "'%s': %d, expected %d", relay[_i].local, r,
                  relay[_i].result);
    if (r != 0) {
        ck_assert_ptr_null(j.buf);
        ck_assert_ptr_null(j.domain);
        return;
    }
    char *bare = jid_bare(&j);
    ck_assert_str_eq(bare, relay[_i].bare);
    ck_assert_ptr_null(j.resource);
    ck_assert_int_eq(j.local == NULL, strchr(relay[_i].bare, '@') == NULL);
    free(bare);
    jid_deinit(&j);
}
END_TEST

START_TEST(test_relay_parse_null)
{
    struct jid j;
    ck_assert_int_eq(jid_relay_parse(NULL, &j), CS_EINVAL);
    ck_assert_ptr_null(j.buf);
}
END_TEST

/* Normalised bare JIDs whose relay address must parse back to them. */
static const char *const relay_contacts[] = {
    "alice@a.test", "c.test",  "a\\b@c.test", "a\\40@c.test",        "x\\@y.test",   "\\5c@c.test",
    "\\@c.test",    "u@[::1]", "[::1]",       "\xc3\xa9lise@e.test", "a.b-c@d.test",
};

START_TEST(test_relay_roundtrip)
{
    const char *contact = relay_contacts[_i];
    char *addr = jid_relay_address(contact, "status.a.test");
    struct jid a, c;
    size_t len = strlen(addr);

    ck_assert(len > 14);
    ck_assert_str_eq(addr + len - 14, "@status.a.test");
    /* A valid address whose localpart is a relay address for contact. */
    ck_assert_int_eq(jid_parse(addr, &a), 0);
    ck_assert_str_eq(a.domain, "status.a.test");
    ck_assert_int_eq(jid_relay_parse(a.local, &c), 0);
    char *bare = jid_bare(&c);
    ck_assert_str_eq(bare, contact);
    free(bare);
    jid_deinit(&c);
    jid_deinit(&a);
    free(addr);
}
END_TEST

START_TEST(test_relay_domain_only)
{
    /* A contact without localpart must not get the address of the channel
     * named like its domain. */
    char *addr = jid_relay_address("c.test", "status.a.test");
    ck_assert_str_eq(addr, "\\40c.test@status.a.test");
    free(addr);
    addr = jid_relay_address("alice@a.test", "status.a.test");
    ck_assert_str_eq(addr, "alice\\40a.test@status.a.test");
    free(addr);
    char *u = jid_unescape_local("\\40c.test");
    ck_assert_str_eq(u, "@c.test");
    free(u);
}
END_TEST

START_TEST(test_unescape_strays)
{
    /* Only the ten exact lowercase sequences are escapes (XEP-0106). */
    static const struct {
        const char *in, *out;
    } t[] = {
        {"x\\2Fy", "x\\2Fy"}, {"a\\", "a\\"},   {"a\\4", "a\\4"},   {"\\\\40", "\\@"},
        {"\\5c", "\\"},       {"\\20", " "},    {"\\2f", "/"},      {"\\5c5c", "\\5c"},
        {"\\", "\\"},         {"\\4g", "\\4g"}, {"\\40\\40", "@@"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char *u = jid_unescape_local(t[i].in);
        ck_assert_msg(strcmp(u, t[i].out) == 0, "'%s' -> '%s'", t[i].in, u);
        free(u);
    }
}
END_TEST

START_TEST(test_relay_parse_many)
{
    /* Every string of up to four of these pieces: each has one defined
     * result, a success is exactly the address jid_relay_address() writes,
     * folding case changes nothing, and a failure leaves nothing to free
     * (the sanitizer build checks for leaks). */
    static const char *const piece[] = {"a", "B",      "\\40", "\\2f", "\\2F", "\\5c", "\\",
                                        ".", "b.test", "\\20", "\\3a", "4",    "@"};
    enum { NP = sizeof(piece) / sizeof(piece[0]) };
    unsigned ok = 0, notfound = 0, inval = 0;
    for (unsigned n = 0; n < NP * NP * NP * NP; n++) {
        char in[64] = "", lower[64];
        struct jid j, k;
        size_t len = 0;
        for (unsigned m = n, d = 0; d < 4; d++, m /= NP) {
            size_t pl = strlen(piece[m % NP]);
            memcpy(in + len, piece[m % NP], pl);
            len += pl;
        }
        in[len] = '\0';
        for (size_t i = 0; i <= len; i++)
            lower[i] = in[i] >= 'A' && in[i] <= 'Z' ? (char)(in[i] - 'A' + 'a') : in[i];
        int r = jid_relay_parse(in, &j);
        ck_assert_int_eq(jid_relay_parse(lower, &k), r);
        if (r == 0) {
            char *bare = jid_bare(&j), *addr = jid_relay_address(bare, "d.test");
            ck_assert_int_eq(strncmp(addr, lower, len), 0);
            ck_assert_str_eq(addr + len, "@d.test");
            ck_assert(jid_bare_eq(&j, &k));
            free(bare);
            free(addr);
            jid_deinit(&j);
            jid_deinit(&k);
            ok++;
        } else {
            ck_assert_msg(r == CS_ENOTFOUND || r == CS_EINVAL, "'%s': %d", in, r);
            ck_assert_ptr_null(j.buf);
            ck_assert_ptr_null(k.buf);
            if (r == CS_ENOTFOUND)
                notfound++;
            else
                inval++;
        }
    }
    ck_assert_uint_gt(ok, 0);
    ck_assert_uint_gt(notfound, 0);
    ck_assert_uint_gt(inval, 0);
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
    tcase_add_loop_test(tc, test_relay_parse, 0, (int)(sizeof(relay) / sizeof(relay[0])));
    tcase_add_test(tc, test_relay_parse_null);
    tcase_add_loop_test(tc, test_relay_roundtrip, 0,
                        (int)(sizeof(relay_contacts) / sizeof(relay_contacts[0])));
    tcase_add_test(tc, test_relay_domain_only);
    tcase_add_test(tc, test_unescape_strays);
    tcase_add_test(tc, test_relay_parse_many);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
