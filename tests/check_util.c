/* check_util.c - the small helpers every module leans on: the checked
 * number parser for what arrives on the wire, and the one text rule. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_text.h"
#include "cs_util.h"
#include "testutil.h"

static int64_t parsed(const char *s, int64_t min, int64_t max)
{
    int64_t v = 12345;
    ck_assert_msg(cs_parse_int(s, min, max, &v) == 0, "'%s' refused", s);
    return v;
}

static void refused(const char *s, int64_t min, int64_t max, int want)
{
    int64_t v = 12345;
    ck_assert_msg(cs_parse_int(s, min, max, &v) == want, "'%s' not refused with %d", s, want);
    ck_assert_int_eq(v, 12345); /* untouched */
}

START_TEST(test_utc_times)
{
    /* XEP-0082 DateTime, as pubsub#expire carries it: exact, no leniency. */
    static const struct {
        const char *s;
        int64_t secs; /* -1: refused */
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2026-12-04T10:20:30Z", 1796379630},
        {"2026-12-04T10:20:30.123Z", 1796379630},
        {"2026-12-04T11:20:30+01:00", 1796379630},
        {"2026-12-04T09:50:30-00:30", 1796379630},
        {"2024-02-29T00:00:00Z", 1709164800},
        {"2023-02-29T00:00:00Z", -1},
        {"2026-13-01T00:00:00Z", -1},
        {"2026-12-04T24:00:00Z", -1},
        {"2026-12-04T10:20:30", -1},
        {"2026-12-04 10:20:30Z", -1},
        {"2026-12-04T10:20:30Zx", -1},
        {"2026-12-04T10:20:30.Z", -1},
        {"2026-12-04T10:20:30+0100", -1},
        {"+2026-12-04T10:20:30Z", -1},
        {"", -1},
    };
    char out[CS_UTC_LEN];
    for (size_t i = 0; i < CS_ARRAY_SIZE(cases); i++) {
        int64_t v = -1;
        int r = cs_parse_utc(cases[i].s, &v);
        if (cases[i].secs < 0)
            ck_assert_msg(r == CS_EINVAL, "%s accepted", cases[i].s);
        else
            ck_assert_msg(r == 0 && v == cases[i].secs, "%s: %d %lld", cases[i].s, r, (long long)v);
    }
    cs_format_utc(1796379630, out);
    ck_assert_str_eq(out, "2026-12-04T10:20:30Z");
}
END_TEST

START_TEST(test_base64)
{
    /* RFC 4648 section 10's vectors, and a length that spans blocks. */
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const want[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                       "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < CS_ARRAY_SIZE(in); i++) {
        char *b = cs_base64(in[i], strlen(in[i]));
        ck_assert_str_eq(b, want[i]);
        free(b);
    }
    size_t n = ((size_t)3 << 20) + 2;
    unsigned char *big = xcalloc(n, 1);
    char *b = cs_base64(big, n);
    ck_assert_uint_eq(strlen(b), 4 * ((n + 2) / 3));
    ck_assert_str_eq(b + strlen(b) - 4, "AAA=");
    free(b);
    free(big);
}
END_TEST

START_TEST(test_parse_int_accepts_digits)
{
    ck_assert_int_eq(parsed("0", 0, 10), 0);
    ck_assert_int_eq(parsed("007", 0, 10), 7);
    ck_assert_int_eq(parsed("-128", -128, 127), -128);
    ck_assert_int_eq(parsed("127", -128, 127), 127);
    ck_assert_int_eq(parsed("-0", -1, 1), 0);
    ck_assert_int_eq(parsed("9223372036854775807", 0, INT64_MAX), INT64_MAX);
    ck_assert_int_eq(parsed("-9223372036854775808", INT64_MIN, 0), INT64_MIN);
    ck_assert_int_eq(parsed("00000000000000000000000000000042", 0, 100), 42);
}
END_TEST

START_TEST(test_parse_int_refuses_the_rest)
{
    static const char *const malformed[] = {
        "",   "-", "+5", " 5", "5 ", "5x", "0x10", "1e3", "--1", "\xd9\xa3" /* ARABIC-INDIC 3 */,
        "5\n"};
    for (size_t i = 0; i < CS_ARRAY_SIZE(malformed); i++)
        refused(malformed[i], -100, 100, CS_EINVAL);
    refused(NULL, 0, 1, CS_EINVAL);
    refused("-1", 0, 100, CS_EINVAL); /* no sign where none is allowed */
    refused("128", -128, 127, CS_ELIMIT);
    refused("-129", -128, 127, CS_ELIMIT);
    refused("0", 1, 10, CS_ELIMIT);
    refused("-5", -10, -6, CS_ELIMIT);
    /* Past int64: range, not overflow (UBSan would stop here). */
    refused("9223372036854775808", 0, INT64_MAX, CS_ELIMIT);
    refused("9223372036854776000", 1, INT64_MAX, CS_ELIMIT);
    refused("99999999999999999999999999999999999999", 0, INT64_MAX, CS_ELIMIT);
    refused("-9223372036854775809", INT64_MIN, 0, CS_ELIMIT);
    /* Out of range but not a number: malformed wins. */
    refused("99999999999999999999x", 0, 10, CS_EINVAL);
}
END_TEST

/* One text rule for names, JIDs and what admins write (cs_text.h). */
START_TEST(test_text_name_ok)
{
    ck_assert(text_name_ok("Desk"));
    ck_assert(text_name_ok("Caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x98\x80"));
    ck_assert(!text_name_ok(""));
    ck_assert(!text_name_ok(NULL));
    ck_assert(!text_name_ok("a\tb"));
    ck_assert(!text_name_ok("a\x7f"));
    ck_assert(!text_name_ok("\xc2\x85"));         /* C1 control */
    ck_assert(!text_name_ok("\xc0\xaf"));         /* overlong */
    ck_assert(!text_name_ok("\xed\xa0\x80"));     /* surrogate */
    ck_assert(!text_name_ok("\xef\xbf\xbe"));     /* U+FFFE */
    ck_assert(!text_name_ok("\xf4\x90\x80\x80")); /* above U+10FFFF */
    ck_assert(!text_name_ok("\xe2\x98"));         /* cut short */
}
END_TEST

START_TEST(test_text_ok_everywhere)
{
    /* U+FFFE used to pass chanstatctl's check and fail the vCard's. */
    ck_assert(!text_ok("a\xef\xbf\xbe", 4));
    ck_assert(text_ok("", 0));
    ck_assert(text_ok("tab\xc2\xa0nbsp", 9));
    ck_assert(!text_ok("a\x00b", 3)); /* NUL inside the length */
    ck_assert(!text_ok("\xf5\x80\x80\x80", 4));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_int_accepts_digits);
    tcase_add_test(tc, test_base64);
    tcase_add_test(tc, test_parse_int_refuses_the_rest);
    tcase_add_test(tc, test_text_name_ok);
    tcase_add_test(tc, test_utc_times);
    tcase_add_test(tc, test_text_ok_everywhere);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
