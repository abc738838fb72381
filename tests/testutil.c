/* testutil.c - helpers shared by the Check unit suites. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void grab(void *ud, struct xml_node *st)
{
    *(struct xml_node **)ud = xml_copy(st);
}

struct xml_node *test_parse_stanza(const char *xml)
{
    static const struct xml_parser_handlers h = {NULL, grab, NULL};
    struct xml_node *parsed = NULL;
    struct xml_parser *p = xml_parser_new(65536, 32, &h, &parsed);
    ck_assert_int_eq(xml_parser_feed(p, TEST_STREAM_HEADER, strlen(TEST_STREAM_HEADER)), 0);
    ck_assert_int_eq(xml_parser_feed(p, xml, strlen(xml)), 0);
    xml_parser_free(&p);
    ck_assert_ptr_nonnull(parsed);
    return parsed;
}

int test_run_suite(Suite *suite)
{
    SRunner *sr = srunner_create(suite);
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
