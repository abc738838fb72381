/* check_status.c - owner resources, aggregation and the watcher presence. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_status.h"
#include "testutil.h"

static struct xml_node *parse(const char *xml)
{
    return test_parse_stanza(xml);
}

/* Applies a presence stanza for resource at time now. */
static bool apply(struct status_set *set, const char *xml, const char *res, int64_t now)
{
    struct status_update u;
    struct xml_node *p = parse(xml);
    ck_assert_int_eq(status_update_parse(p, res, &u), 0);
    bool changed = status_set_apply(set, &u, now);
    status_update_deinit(&u);
    xml_free(p);
    return changed;
}

static char *render(const struct status_set *set)
{
    struct status_view v;
    struct strbuf sb = {0};
    status_set_view(set, &v);
    struct xml_node *p = status_presence(&v, "c@s");
    xml_serialize(p, XML_NS_COMPONENT, &sb);
    xml_free(p);
    return sb.data;
}

static void expect_render(const struct status_set *set, const char *want)
{
    char *got = render(set);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(test_parse)
{
    struct status_update u;
    struct xml_node *p = parse("<presence><show>dnd</show><status xml:lang='de'>weg</status>"
                               "<status>gone</status><priority>-5</priority></presence>");
    ck_assert_int_eq(status_update_parse(p, "r", &u), 0);
    ck_assert(u.available);
    ck_assert_int_eq(u.show, SHOW_DND);
    ck_assert_str_eq(u.text, "gone");
    ck_assert_int_eq(u.priority, -5);
    status_update_deinit(&u);
    xml_free(p);

    static const char *const bad[] = {
        "<presence><show>busy</show></presence>",
        "<presence><priority>128</priority></presence>",
        "<presence><priority>x</priority></presence>",
        "<presence><priority></priority></presence>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = parse(bad[i]);
        ck_assert_int_eq(status_update_parse(p, "r", &u), CS_EINVAL);
        status_update_deinit(&u);
        xml_free(p);
    }
    p = parse("<presence type='unavailable'><status>bye</status></presence>");
    ck_assert_int_eq(status_update_parse(p, "r", &u), 0);
    ck_assert(!u.available);
    status_update_deinit(&u);
    xml_free(p);
}
END_TEST

START_TEST(test_aggregate_priority_and_ties)
{
    struct status_set set = {0};
    expect_render(&set, "<presence from='c@s' type='unavailable'/>");
    ck_assert(apply(&set, "<presence><show>away</show><priority>1</priority></presence>", "a", 10));
    expect_render(&set, "<presence from='c@s'><show>away</show><priority>1</priority></presence>");
    /* Higher priority wins. */
    ck_assert(apply(&set, "<presence><status>at desk</status><priority>5</priority></presence>",
                    "b", 11));
    expect_render(&set,
                  "<presence from='c@s'><status>at desk</status><priority>5</priority></presence>");
    /* Lower priority changing does not change the aggregate. */
    ck_assert(!apply(&set, "<presence><show>xa</show><priority>1</priority></presence>", "a", 12));
    /* Tie: the most recent wins. */
    ck_assert(apply(&set, "<presence><show>chat</show><priority>5</priority></presence>", "a", 13));
    expect_render(&set, "<presence from='c@s'><show>chat</show><priority>5</priority></presence>");
    /* Same presence again: no change (unchanged status is not re-sent). */
    ck_assert(
        !apply(&set, "<presence><show>chat</show><priority>5</priority></presence>", "a", 14));
    /* Winner leaves: the other takes over. */
    ck_assert(apply(&set, "<presence type='unavailable'/>", "a", 15));
    expect_render(&set,
                  "<presence from='c@s'><status>at desk</status><priority>5</priority></presence>");
    /* Unknown resource leaving: nothing. */
    ck_assert(!apply(&set, "<presence type='unavailable'/>", "zzz", 16));
    ck_assert(apply(&set, "<presence type='unavailable'/>", "b", 17));
    expect_render(&set, "<presence from='c@s' type='unavailable'/>");
    struct status_view v;
    status_set_view(&set, &v);
    ck_assert_int_eq(v.last_seen, 17);
    status_set_deinit(&set);
}
END_TEST

START_TEST(test_text_change_and_clear)
{
    struct status_set set = {0};
    ck_assert(apply(&set, "<presence><status>one</status></presence>", "a", 1));
    ck_assert(apply(&set, "<presence><status>two</status></presence>", "a", 2));
    ck_assert(apply(&set, "<presence/>", "a", 3));
    ck_assert(apply(&set, "<presence><show>away</show></presence>", "b", 4));
    ck_assert(status_set_clear(&set, 9));
    ck_assert(!status_set_clear(&set, 10));
    struct status_view v;
    status_set_view(&set, &v);
    ck_assert_int_eq(v.show, SHOW_UNAVAILABLE);
    ck_assert_int_eq(v.last_seen, 9);
    status_set_deinit(&set);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse);
    tcase_add_test(tc, test_aggregate_priority_and_ties);
    tcase_add_test(tc, test_text_change_and_clear);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
