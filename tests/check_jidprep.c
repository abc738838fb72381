/* check_jidprep.c - nodeprep, nameprep and resourceprep (jidprep.c): the
 * ASCII path against ICU, chosen cases of each rule, and agreement with
 * the Prosody installed on this machine on some ten thousand strings. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cs_error.h"
#include "cs_jid.h"
#include "testutil.h"

static const char *const profile_name[] = {"nodeprep", "nameprep", "resourceprep"};

/* Both paths give the same answer for the len bytes at s. */
static void assert_same(enum jidprep_profile p, const char *s, size_t len)
{
    char a[JID_PART_MAX + 1], b[JID_PART_MAX + 1];
    size_t alen = 0, blen = 0;
    int ra = jidprep(p, s, len, a, &alen), rb = jidprep_icu(p, s, len, b, &blen);
    ck_assert_msg(ra == rb, "%s of %02x %02x: %d, ICU %d", profile_name[p], (unsigned char)s[0],
                  len > 1 ? (unsigned char)s[1] : 0, ra, rb);
    if (ra == 0) {
        ck_assert_uint_eq(alen, blen);
        ck_assert(memcmp(a, b, alen) == 0);
    }
}

/* Stringprep works character by character on ASCII (no ASCII character
 * takes part in the bidi rules), so every character and every pair of
 * characters cover the fast path. */
START_TEST(test_ascii_against_icu)
{
    enum jidprep_profile p = (enum jidprep_profile)_i;
    char s[2];
    for (int c = 0; c < 128; c++) {
        s[0] = (char)c;
        assert_same(p, s, 1);
        for (int d = 1; d < 128; d++) {
            s[1] = (char)d;
            assert_same(p, s, 2);
        }
    }
    assert_same(p, "", 0);
}
END_TEST

static const struct {
    enum jidprep_profile p;
    const char *in, *out; /* out NULL: refused */
} cases[] = {
    /* Unicode case (B.2) */
    {JIDPREP_NODE, "M\xc3\xbcller", "m\xc3\xbcller"},
    {JIDPREP_NODE, "M\xc3\x9cLLER", "m\xc3\xbcller"},
    {JIDPREP_NODE, "\xce\xa3\xce\x97\xce\xa3",
     "\xcf\x83\xce\xb7\xcf\x83"},           /* ΣΗΣ: no final sigma */
    {JIDPREP_NODE, "\xcf\x82", "\xcf\x83"}, /* ς folds to σ */
    {JIDPREP_NODE,
     "stra\xc3\x9f"
     "e",
     "strasse"},                             /* ß -> ss */
    {JIDPREP_NODE, "\xe2\x84\xaa", "k"},     /* Kelvin sign */
    {JIDPREP_NODE, "\xc4\xb0", "i\xcc\x87"}, /* İ */
    {JIDPREP_NAME,
     "B\xc3\x9c"
     "CHER.Example",
     "b\xc3\xbc"
     "cher.example"},
    {JIDPREP_RESOURCE, "M\xc3\x9cLLER", "M\xc3\x9cLLER"}, /* no case mapping */
    /* compatibility characters (NFKC) */
    {JIDPREP_NODE, "\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3", "abc"}, /* fullwidth ＡＢＣ */
    {JIDPREP_RESOURCE, "\xef\xbc\xa1\xef\xbd\x82", "Ab"},          /* fullwidth Ａｂ */
    {JIDPREP_NODE,
     "\xef\xac\x81"
     "x",
     "fix"},                                 /* ﬁ ligature */
    {JIDPREP_NODE, "x\xc2\xb2", "x2"},       /* superscript two */
    {JIDPREP_NODE, "u\xcc\x88", "\xc3\xbc"}, /* u + combining diaeresis */
    {JIDPREP_NODE,
     "a\xc2\xad"
     "b",
     "ab"}, /* soft hyphen: nothing */
    {JIDPREP_NODE,
     "a\xe2\x80\x8b"
     "b",
     "ab"},                               /* zero width space */
    {JIDPREP_NODE, "\xef\xbc\xa0", NULL}, /* fullwidth @ becomes @ */
    {JIDPREP_NAME,
     "a\xef\xbc\x8e"
     "b",
     "a.b"}, /* fullwidth full stop */
    /* prohibited code points */
    {JIDPREP_NODE, "a b", NULL},      /* C.1.1 */
    {JIDPREP_RESOURCE, "a b", "a b"}, /* allowed in a resource */
    {JIDPREP_NODE,
     "a\xc2\xa0"
     "b",
     NULL}, /* C.1.2 no-break space */
    {JIDPREP_RESOURCE,
     "a\xe3\x80\x80"
     "b",
     "a b"}, /* NFKC first: a space */
    {JIDPREP_RESOURCE,
     "a\xe2\x80\xa8"
     "b",
     NULL},                                       /* C.2.2 line separator */
    {JIDPREP_RESOURCE, "a\x01", NULL},            /* C.2.1 */
    {JIDPREP_RESOURCE, "a\x7f", NULL},            /* C.2.1 */
    {JIDPREP_NAME, "a\xc2\x85", NULL},            /* C.2.2 */
    {JIDPREP_NODE, "a\xee\x80\x80", NULL},        /* C.3 private use */
    {JIDPREP_RESOURCE, "\xf3\xb0\x80\x80", NULL}, /* C.3 plane 15 */
    {JIDPREP_NODE, "a\xef\xbf\xbe", NULL},        /* C.4 U+FFFE */
    {JIDPREP_NODE, "a\xef\xbf\xbd", NULL},        /* C.6 U+FFFD */
    {JIDPREP_RESOURCE, "a\xe2\x80\xae", NULL},    /* C.8 RLO */
    {JIDPREP_NODE, "a\xf3\xa0\x80\x81", NULL},    /* C.9 language tag */
    {JIDPREP_NODE, "a\"b", NULL},
    {JIDPREP_NODE, "a&b", NULL},
    {JIDPREP_NODE, "a'b", NULL},
    {JIDPREP_NODE, "a/b", NULL},
    {JIDPREP_NODE, "a:b", NULL},
    {JIDPREP_NODE, "a<b", NULL},
    {JIDPREP_NODE, "a>b", NULL},
    {JIDPREP_NODE, "a@b", NULL},
    {JIDPREP_RESOURCE, "a/b@c:d", "a/b@c:d"},
    /* unassigned in Unicode 3.2: allowed, as the servers allow them */
    {JIDPREP_NODE, "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"}, /* U+1F600 */
    {JIDPREP_NODE, "\xc8\xa1", "\xc8\xa1"},                 /* U+0221 */
    /* bidi (RFC 3454 section 6) */
    {JIDPREP_NODE, "\xd7\x90\xd7\x91", "\xd7\x90\xd7\x91"}, /* אב */
    {JIDPREP_NODE,
     "\xd7\x90"
     "1\xd7\x91",
     "\xd7\x90"
     "1\xd7\x91"},
    {JIDPREP_NODE,
     "\xd7\x90"
     "a",
     NULL}, /* RandAL and L */
    {JIDPREP_NODE,
     "\xd7\x90"
     "1",
     NULL},                            /* RandAL not last */
    {JIDPREP_NODE, "1\xd7\x90", NULL}, /* RandAL not first */
    {JIDPREP_RESOURCE, "\xd8\xa7\xd9\xa0\xd8\xa8", "\xd8\xa7\xd9\xa0\xd8\xa8"},
    {JIDPREP_RESOURCE, "x\xe2\x80\x8f", NULL}, /* RLM after L */
    /* ill-formed UTF-8 */
    {JIDPREP_NODE, "\xc3", NULL},
    {JIDPREP_NODE, "\xc0\xaf", NULL},
    {JIDPREP_RESOURCE, "\xed\xa0\x80", NULL},
    {JIDPREP_NAME, "\xff", NULL},
};

START_TEST(test_cases)
{
    char out[JID_PART_MAX + 1];
    size_t len = 0;
    int r = jidprep(cases[_i].p, cases[_i].in, strlen(cases[_i].in), out, &len);
    if (cases[_i].out == NULL) {
        ck_assert_msg(r == CS_EINVAL, "case %d: %s accepted", _i, profile_name[cases[_i].p]);
    } else {
        ck_assert_msg(r == 0, "case %d: %s refused", _i, profile_name[cases[_i].p]);
        ck_assert_str_eq(out, cases[_i].out);
        ck_assert_uint_eq(len, strlen(cases[_i].out));
    }
}
END_TEST

/* RFC 7622 3.1 and Prosody: 1023 bytes before and after preparation. */
START_TEST(test_lengths)
{
    static char s[3000];
    char out[JID_PART_MAX + 1];
    size_t len;
    memset(s, 'A', 1023);
    ck_assert_int_eq(jidprep(JIDPREP_NODE, s, 1023, out, &len), 0);
    ck_assert_uint_eq(len, 1023);
    ck_assert_int_eq(jidprep(JIDPREP_NODE, s, 1024, out, &len), CS_EINVAL);
    for (int i = 0; i < 511; i++)
        memcpy(s + 2 * i, "\xc3\x84", 2); /* Ä: 1022 bytes */
    ck_assert_int_eq(jidprep(JIDPREP_NODE, s, 1022, out, &len), 0);
    ck_assert_uint_eq(len, 1022);
    for (int i = 0; i < 200; i++)
        memcpy(s + 3 * i, "\xe3\x8f\x86", 3); /* U+33C6 -> "c\u2215kg": twice as long */
    ck_assert_int_eq(jidprep(JIDPREP_NODE, s, 3 * 170, out, &len), 0);
    ck_assert_uint_eq(len, 6 * 170);
    ck_assert_int_eq(jidprep(JIDPREP_NODE, s, 3 * 171, out, &len), CS_EINVAL);
    ck_assert_int_eq(jidprep(JIDPREP_RESOURCE, s, 3 * 171, out, &len), CS_EINVAL);
    for (int i = 0; i < 100; i++)
        memcpy(s + 3 * i, "\xef\xb7\xba", 3); /* U+FDFA: 18 characters after NFKC */
    ck_assert_int_eq(jidprep(JIDPREP_RESOURCE, s, 300, out, &len), CS_EINVAL);
    ck_assert_int_eq(jidprep(JIDPREP_RESOURCE, s, 30, out, &len), 0);
    ck_assert_uint_gt(len, 300);
}
END_TEST

/* ---- Agreement with Prosody ---- */

/* Code points where the profiles do something: case pairs, compatibility
 * forms, what maps to nothing, every table of prohibited characters,
 * bidi classes, unassigned code points, combining marks.  0xD800 stands
 * for an encoded surrogate (ill-formed input). */
static const uint32_t pool[] = {
    'a',    'Z',     '0',     ' ',     '"',     '&',     '\'',    '/',     ':',      '<',
    '>',    '@',     '\\',    '.',     '-',     0x01,    0x7f,    0xa0,    0xad,     0xb2,
    0xb5,   0xc4,    0xdf,    0xe4,    0xfc,    0x85,    0x130,   0x131,   0x149,    0x17f,
    0x1c5,  0x221,   0x301,   0x308,   0x340,   0x345,   0x378,   0x390,   0x3a3,    0x3c2,
    0x3c3,  0x3d2,   0x5d0,   0x5d1,   0x5be,   0x627,   0x628,   0x660,   0x6dd,    0x1e9e,
    0x1f88, 0x2000,  0x200b,  0x200d,  0x200e,  0x200f,  0x202e,  0x2028,  0x2060,   0x206a,
    0x2126, 0x212a,  0x212b,  0x2160,  0x2460,  0x2ff0,  0x3000,  0x3002,  0x3131,   0x338f,
    0x33c6, 0xac00,  0x1100,  0x1161,  0xd800,  0xe000,  0xf900,  0xfb01,  0xfb1d,   0xfdd0,
    0xfdfa, 0xfe0f,  0xfeff,  0xff0e,  0xff20,  0xff21,  0xff41,  0xfff9,  0xfffc,   0xfffd,
    0xfffe, 0x1d400, 0x1d7ce, 0x1f600, 0x2fa1d, 0xe0001, 0xe0041, 0xf0000, 0x10fffd, 0x10ffff,
};
#define NPOOL (sizeof(pool) / sizeof(pool[0]))

static size_t put_utf8(char *s, uint32_t cp)
{
    if (cp < 0x80) {
        s[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        s[0] = (char)(0xc0 | cp >> 6);
        s[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        s[0] = (char)(0xe0 | cp >> 12);
        s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        s[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    s[0] = (char)(0xf0 | cp >> 18);
    s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    s[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    s[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static void put_hex(FILE *f, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%02x", (unsigned char)s[i]);
    fputc('\n', f);
}

/* Writes the inputs, one hex line each; returns how many. */
static unsigned write_inputs(FILE *f)
{
    char s[4096];
    unsigned n = 0;
    uint32_t seed = 12345;
    for (size_t i = 0; i < NPOOL; i++) {
        size_t len = put_utf8(s, pool[i]);
        put_hex(f, s, len), n++;
        for (size_t j = 0; j < NPOOL; j++)
            put_hex(f, s, len + put_utf8(s + len, pool[j])), n++;
    }
    for (int i = 0; i < 3000; i++) {
        size_t len = 0;
        int k;
        seed = seed * 1103515245u + 12345u;
        k = 1 + (int)((seed >> 16) % 8);
        while (k-- > 0) {
            seed = seed * 1103515245u + 12345u;
            len += put_utf8(s + len, pool[(seed >> 16) % NPOOL]);
        }
        put_hex(f, s, len), n++;
    }
    /* Lengths: 1023 and 1024 bytes, and results that grow past 1023. */
    memset(s, 'A', 1024);
    put_hex(f, s, 1023), n++;
    put_hex(f, s, 1024), n++;
    for (int i = 0; i < 512; i++)
        put_utf8(s + 2 * i, 0xdf);
    put_hex(f, s, 1022), n++;
    put_hex(f, s, 1024), n++;
    put_hex(f, s, 2 * 300), n++;
    for (int i = 0; i < 60; i++)
        put_utf8(s + 3 * i, 0xfdfa);
    put_hex(f, s, 3 * 60), n++;
    put_hex(f, s, 3 * 20), n++;
    put_hex(f, "", 0), n++;
    put_hex(f, "\xff", 1), n++;
    put_hex(f, "a\xc3", 2), n++;
    put_hex(f, "\xc0\xaf", 2), n++;
    put_hex(f, "a\0b", 3), n++;
    return n;
}

static size_t unhex(const char *h, size_t hlen, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i + 1 < hlen; i += 2) {
        unsigned v;
        ck_assert(sscanf(h + i, "%2x", &v) == 1);
        out[n++] = (char)v;
    }
    return n;
}

START_TEST(test_prosody)
{
    const char *top = getenv("top_srcdir");
    char path[] = "/tmp/check_jidprep.XXXXXX", cmd[4096];
    static char line[16384], in[4096], want[4096], got[JID_PART_MAX + 1];
    unsigned n, compared = 0, refused = 0, changed = 0;
    FILE *f, *lua;
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    n = write_inputs(f);
    ck_assert_int_eq(fclose(f), 0);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    snprintf(cmd, sizeof(cmd), "lua5.4 '%s/tests/prosody_prep.lua' < '%s'", top ? top : "..", path);
    lua = popen(cmd, "r");
    ck_assert_ptr_nonnull(lua);
    for (unsigned i = 0; i < n; i++) {
        size_t inlen, hl;
        char *field, *save = NULL;
        ck_assert_msg(fgets(line, sizeof(line), f) != NULL, "input %u", i);
        hl = strcspn(line, "\n");
        inlen = unhex(line, hl, in);
        ck_assert_msg(fgets(line, sizeof(line), lua) != NULL,
                      "Prosody's util.encodings answered %u of %u lines (is prosody installed?)", i,
                      n);
        line[strcspn(line, "\n")] = '\0';
        field = strtok_r(line, " ", &save);
        for (int p = 0; p <= JIDPREP_RESOURCE; p++, field = strtok_r(NULL, " ", &save)) {
            size_t glen = 0;
            int r = jidprep((enum jidprep_profile)p, in, inlen, got, &glen);
            ck_assert_ptr_nonnull(field);
            compared++;
            if (field[0] == '-') {
                ck_assert_msg(r != 0, "input %u: %s: Prosody refuses, we give '%s'", i,
                              profile_name[p], got);
                refused++;
                continue;
            }
            size_t wlen = unhex(field + 1, strlen(field + 1), want);
            ck_assert_msg(r == 0, "input %u: %s: Prosody accepts, we refuse", i, profile_name[p]);
            ck_assert_msg(glen == wlen && memcmp(got, want, wlen) == 0,
                          "input %u: %s differs from Prosody's", i, profile_name[p]);
            changed += glen != inlen || memcmp(got, in, inlen) != 0;
        }
    }
    ck_assert_int_eq(pclose(lua), 0);
    fclose(f);
    unlink(path);
    printf("jidprep: %u strings, %u preparations agree with Prosody (%u refused by both, %u "
           "changed by both)\n",
           n, compared, refused, changed);
    /* Every kind of answer occurred. */
    ck_assert_uint_gt(refused, 1000);
    ck_assert_uint_gt(changed, 1000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jidprep");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_ascii_against_icu, JIDPREP_NODE, JIDPREP_RESOURCE + 1);
    tcase_add_loop_test(tc, test_cases, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, test_lengths);
    tcase_add_test(tc, test_prosody);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
