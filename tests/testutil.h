/* testutil.h - helpers shared by the Check unit suites. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <check.h>

#include "cs_xml.h"

/* The header of a component stream, as a server sends it. */
#define TEST_STREAM_HEADER                                                                         \
    "<stream:stream xmlns='jabber:component:accept' "                                              \
    "xmlns:stream='http://etherx.jabber.org/streams' id='x'>"

/* Parses one stanza as the link would deliver it; caller frees with
 * xml_free().  Fails the test on bad XML. */
struct xml_node *test_parse_stanza(const char *xml);

/* Runs suite, returns the process exit status. */
int test_run_suite(Suite *suite);

#endif
