/* check_xml.c - trees, serializer, and the bounded restricted-XML parser. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_xml.h"
#include "testutil.h"

struct collected {
    int starts, ends;
    char *stream_id;
    struct strbuf stanzas; /* serialised stanzas, one per line */
    unsigned count;
};

static void c_start(void *ud, const struct xml_node *root)
{
    struct collected *c = ud;
    const char *id = xml_attr(root, "id");
    c->starts++;
    free(c->stream_id);
    c->stream_id = id ? strdup(id) : NULL;
}

static void c_stanza(void *ud, struct xml_node *st)
{
    struct collected *c = ud;
    xml_serialize(st, XML_NS_COMPONENT, &c->stanzas);
    strbuf_append(&c->stanzas, "\n", 1);
    c->count++;
}

static void c_end(void *ud)
{
    ((struct collected *)ud)->ends++;
}

static const struct xml_parser_handlers H = {c_start, c_stanza, c_end};

#define HDR                                                                                        \
    "<stream:stream xmlns='jabber:component:accept' "                                              \
    "xmlns:stream='http://etherx.jabber.org/streams' id='abc'>"

static void collected_free(struct collected *c)
{
    free(c->stream_id);
    strbuf_free(&c->stanzas);
}

/* Every byte, in text and in attribute values: the five markup
 * characters as entities (quotes in values only), CR always and LF and
 * TAB in values as character references, everything else as it is. */
START_TEST(test_escape_every_byte)
{
    for (int attr = 0; attr < 2; attr++) {
        for (int c = 1; c < 256; c++) {
            struct strbuf sb = {0};
            char in[3] = {'a', (char)c, 'b'};
            const char *want = NULL;
            switch (c) {
            case '&': want = "a&amp;b"; break;
            case '<': want = "a&lt;b"; break;
            case '>': want = "a&gt;b"; break;
            case '\r': want = "a&#13;b"; break;
            case '\'': want = attr ? "a&apos;b" : NULL; break;
            case '"': want = attr ? "a&quot;b" : NULL; break;
            case '\n': want = attr ? "a&#10;b" : NULL; break;
            case '\t': want = attr ? "a&#9;b" : NULL; break;
            default: break;
            }
            xml_escape(&sb, in, sizeof(in), attr);
            if (want)
                ck_assert_str_eq(sb.data, want);
            else
                ck_assert_msg(sb.len == 3 && memcmp(sb.data, in, 3) == 0, "byte %d changed", c);
            strbuf_free(&sb);
        }
    }
}
END_TEST

START_TEST(test_parse_stanzas_roundtrip)
{
    struct collected c = {0};
    struct xml_parser *p = xml_parser_new(65536, 32, &H, &c);
    const char *in = HDR "<message to='a@b' from='c@d/r' type='chat' id='1'>"
                         "<body xml:lang='en'>hi &amp; &lt;there&gt; &apos;q&apos;</body>"
                         "<x xmlns='urn:ext' a='1'><y/></x></message> \n"
                         "<iq type='get' id='2'><ping xmlns='urn:xmpp:ping'/></iq>";
    ck_assert_int_eq(xml_parser_feed(p, in, strlen(in)), 0);
    ck_assert_int_eq(c.starts, 1);
    ck_assert_str_eq(c.stream_id, "abc");
    ck_assert_uint_eq(c.count, 2);
    ck_assert_str_eq(c.stanzas.data, "<message to='a@b' from='c@d/r' type='chat' id='1'>"
                                     "<body xml:lang='en'>hi &amp; &lt;there&gt; 'q'</body>"
                                     "<x xmlns='urn:ext' a='1'><y/></x></message>\n"
                                     "<iq type='get' id='2'><ping xmlns='urn:xmpp:ping'/></iq>\n");
    ck_assert_int_eq(xml_parser_feed(p, "</stream:stream>", 16), 0);
    ck_assert_int_eq(c.ends, 1);
    xml_parser_free(&p);
    ck_assert_ptr_null(p);
    collected_free(&c);
}
END_TEST

START_TEST(test_parse_byte_by_byte)
{
    struct collected c = {0};
    struct xml_parser *p = xml_parser_new(65536, 32, &H, &c);
    const char *in = HDR "<presence from='a@b'><status>\xc3\xa9t\xc3\xa9</status></presence>";
    for (size_t i = 0; in[i]; i++)
        ck_assert_int_eq(xml_parser_feed(p, in + i, 1), 0);
    ck_assert_uint_eq(c.count, 1);
    ck_assert_str_eq(c.stanzas.data,
                     "<presence from='a@b'><status>\xc3\xa9t\xc3\xa9</status></presence>\n");
    xml_parser_free(&p);
    collected_free(&c);
}
END_TEST

START_TEST(test_every_split_point)
{
    /* A stanza split anywhere across two reads is delivered as soon as
     * its last byte arrives (no deferral until more input comes). */
    const char *in = HDR "<presence from='a@b'><status>x</status></presence>";
    size_t len = strlen(in);
    for (size_t k = 1; k < len; k++) {
        struct collected c = {0};
        struct xml_parser *p = xml_parser_new(65536, 32, &H, &c);
        ck_assert_int_eq(xml_parser_feed(p, in, k), 0);
        ck_assert_int_eq(xml_parser_feed(p, in + k, len - k), 0);
        ck_assert_msg(c.count == 1, "split at %zu: %u stanzas", k, c.count);
        xml_parser_free(&p);
        collected_free(&c);
    }
}
END_TEST

static void expect_violation(const char *in, size_t max_bytes, unsigned depth, enum xml_violation v,
                             int code)
{
    struct collected c = {0};
    struct xml_parser *p = xml_parser_new(max_bytes, depth, &H, &c);
    int r = xml_parser_feed(p, in, strlen(in));
    ck_assert_int_eq(r, code);
    ck_assert_int_eq(xml_parser_violation(p), v);
    ck_assert_str_ne(xml_parser_error(p), "");
    /* Sticky until reset. */
    ck_assert_int_eq(xml_parser_feed(p, "<a/>", 4), code);
    xml_parser_reset(p);
    ck_assert_int_eq(xml_parser_feed(p, HDR "<a/>", strlen(HDR) + 4), 0);
    ck_assert_int_eq(xml_parser_violation(p), XML_VIOLATION_NONE);
    xml_parser_free(&p);
    collected_free(&c);
}

START_TEST(test_doctype_rejected)
{
    expect_violation("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]>" HDR, 65536, 32,
                     XML_VIOLATION_DOCTYPE, CS_EPROTO);
    expect_violation("<!DOCTYPE stream:stream>" HDR, 65536, 32, XML_VIOLATION_DOCTYPE, CS_EPROTO);
    /* Injected mid-stream, between stanzas. */
    expect_violation(HDR "<a/><!DOCTYPE foo [<!ENTITY x 'y'>]>", 65536, 32, XML_VIOLATION_DOCTYPE,
                     CS_EPROTO);
}
END_TEST

START_TEST(test_pi_comment_rejected)
{
    expect_violation(HDR "<?foo bar?>", 65536, 32, XML_VIOLATION_PI, CS_EPROTO);
    expect_violation(HDR "<message><!-- hi --></message>", 65536, 32, XML_VIOLATION_COMMENT,
                     CS_EPROTO);
}
END_TEST

START_TEST(test_syntax_and_entities)
{
    expect_violation(HDR "<message><a></b></message>", 65536, 32, XML_VIOLATION_SYNTAX, CS_EPROTO);
    expect_violation(HDR "<message>&undefined;</message>", 65536, 32, XML_VIOLATION_SYNTAX,
                     CS_EPROTO);
}
END_TEST

START_TEST(test_size_limit)
{
    struct strbuf sb = {0};
    /* A stanza over the limit is cut (test_oversize_cut); past
     * XML_TREE_FACTOR times the limit the stream fails. */
    strbuf_append_str(&sb, HDR "<message><body>");
    for (int i = 0; i < 8000; i++)
        strbuf_append_str(&sb, "0123456789");
    strbuf_append_str(&sb, "</body></message>");
    expect_violation(sb.data, 4096, 32, XML_VIOLATION_SIZE, CS_ELIMIT);
    /* A huge attribute value in a start tag expat must buffer. */
    sb.len = 0;
    strbuf_append_str(&sb, HDR "<message a='");
    for (int i = 0; i < 2000; i++)
        strbuf_append_str(&sb, "0123456789");
    expect_violation(sb.data, 4096, 32, XML_VIOLATION_SIZE, CS_ELIMIT);
    strbuf_free(&sb);
}
END_TEST

START_TEST(test_size_limit_is_per_stanza)
{
    /* Many stanzas, each under the limit, far more than the limit in all. */
    struct collected c = {0};
    struct xml_parser *p = xml_parser_new(1024, 32, &H, &c);
    ck_assert_int_eq(xml_parser_feed(p, HDR, strlen(HDR)), 0);
    for (int i = 0; i < 1000; i++) {
        const char *m = "<message><body>0123456789012345678901234567890123456789</body></message> ";
        ck_assert_int_eq(xml_parser_feed(p, m, strlen(m)), 0);
    }
    ck_assert_uint_eq(c.count, 1000);
    xml_parser_free(&p);
    collected_free(&c);
}
END_TEST

START_TEST(test_depth_limit)
{
    struct strbuf sb = {0};
    /* Deeper than the limit inside a stanza cuts the stanza
     * (test_oversize_cut); as many levels as the byte limit fail the
     * stream (what expat keeps per open element stays bounded). */
    strbuf_append_str(&sb, HDR "<message>");
    for (int i = 0; i < 1100; i++)
        strbuf_append_str(&sb, "<a>");
    expect_violation(sb.data, 1024, 16, XML_VIOLATION_DEPTH, CS_ELIMIT);
    /* Exactly at the limit is fine: stanza level 1 + 15 nested = 16. */
    struct collected c = {0};
    struct xml_parser *p = xml_parser_new(65536, 16, &H, &c);
    sb.len = 0;
    strbuf_append_str(&sb, HDR "<message>");
    for (int i = 0; i < 15; i++)
        strbuf_append_str(&sb, "<a>");
    for (int i = 0; i < 15; i++)
        strbuf_append_str(&sb, "</a>");
    strbuf_append_str(&sb, "</message>");
    ck_assert_int_eq(xml_parser_feed(p, sb.data, sb.len), 0);
    ck_assert_uint_eq(c.count, 1);
    xml_parser_free(&p);
    collected_free(&c);
    strbuf_free(&sb);
}
END_TEST

static struct xml_parser *stop_parser;
static int stop_seen;

static void stop_in_stanza(void *ud, struct xml_node *st)
{
    stop_seen++;
    xml_parser_stop(stop_parser);
}

START_TEST(test_stop_from_handler)
{
    struct xml_parser_handlers h = {NULL, stop_in_stanza, NULL};
    const char *in = HDR "<a/><b/><c/>";
    stop_seen = 0;
    stop_parser = xml_parser_new(65536, 16, &h, NULL);
    ck_assert_int_eq(xml_parser_feed(stop_parser, in, strlen(in)), CS_ECLOSED);
    ck_assert_int_eq(stop_seen, 1); /* nothing after the stop is delivered */
    ck_assert_int_eq(xml_parser_feed(stop_parser, "<d/>", 4), CS_ECLOSED);
    xml_parser_reset(stop_parser);
    ck_assert_int_eq(xml_parser_feed(stop_parser, in, 8), 0);
    xml_parser_free(&stop_parser);
}
END_TEST

START_TEST(test_tree_api)
{
    struct xml_node *m = xml_elem_new("message", NULL);
    struct strbuf sb = {0};
    xml_set_attr(m, "to", "a'b\"c<d>&e");
    xml_set_attr(m, "xml:lang", "de");
    xml_add_text(xml_add_child(m, "body", NULL), "x < y & \"z\"");
    xml_add_child(m, "active", "http://jabber.org/protocol/chatstates");
    ck_assert_str_eq(xml_attr(m, "xml:lang"), "de");
    ck_assert_str_eq(xml_attr_ns(m, XML_NS_XML, "lang"), "de");
    ck_assert_ptr_null(xml_attr(m, "lang"));
    ck_assert_uint_eq(xml_count_elems(m), 2);
    ck_assert_ptr_nonnull(xml_child(m, "active", "http://jabber.org/protocol/chatstates"));
    ck_assert_ptr_null(xml_child(m, "active", XML_NS_COMPONENT));
    ck_assert_str_eq(xml_ns(xml_child(m, "body", NULL)) ? "set" : "inherit", "inherit");
    xml_serialize(m, XML_NS_COMPONENT, &sb);
    ck_assert_str_eq(sb.data, "<message to='a&apos;b&quot;c&lt;d&gt;&amp;e' xml:lang='de'>"
                              "<body>x &lt; y &amp; \"z\"</body>"
                              "<active xmlns='http://jabber.org/protocol/chatstates'/></message>");
    struct xml_node *c = xml_copy(m);
    struct strbuf sb2 = {0};
    xml_serialize(c, XML_NS_COMPONENT, &sb2);
    ck_assert_str_eq(sb.data, sb2.data);
    xml_remove_attr(c, "to");
    ck_assert_ptr_null(xml_attr(c, "to"));
    ck_assert_str_eq(xml_attr(c, "xml:lang"), "de");
    char *t = xml_text_dup(xml_child(m, "body", NULL));
    ck_assert_str_eq(t, "x < y & \"z\"");
    free(t);
    xml_free(m);
    xml_free(c);
    strbuf_free(&sb);
    strbuf_free(&sb2);
}
END_TEST

START_TEST(test_namespaced_attribute_roundtrip)
{
    struct collected c = {0};
    struct xml_parser *p = xml_parser_new(65536, 32, &H, &c);
    const char *in = HDR "<message xmlns:f='urn:foo' f:bar='1'/>";
    ck_assert_int_eq(xml_parser_feed(p, in, strlen(in)), 0);
    ck_assert_str_eq(c.stanzas.data, "<message xmlns:a0='urn:foo' a0:bar='1'/>\n");
    xml_parser_free(&p);
    collected_free(&c);
}
END_TEST

/* A stanza whose root element carries n attributes a0='v0' a1='v1' ...;
 * caller frees with strbuf_free(). */
static struct strbuf many_attrs(const char *prefix, unsigned n)
{
    struct strbuf sb = {0};
    strbuf_append_str(&sb, prefix);
    strbuf_append_str(&sb, "<iq type='get' id='x'");
    for (unsigned i = 2; i < n; i++)
        strbuf_printf(&sb, " a%u='v%u'", i, i);
    strbuf_append_str(&sb, "><ping xmlns='urn:xmpp:ping'/></iq>");
    return sb;
}

START_TEST(test_attribute_cap)
{
    struct strbuf sb = {0};

    /* Over the cap on a stanza or inside one: the stanza is cut
     * (test_oversize_cut).  On the stream root: a size violation, which
     * the link answers with policy-violation and a stream restart. */
    strbuf_append_str(&sb, "<stream:stream xmlns='jabber:component:accept' "
                           "xmlns:stream='http://etherx.jabber.org/streams'");
    for (unsigned i = 0; i < XML_MAX_ATTRS + 1; i++)
        strbuf_printf(&sb, " a%u='1'", i);
    strbuf_append_str(&sb, ">");
    expect_violation(sb.data, 1 << 20, 32, XML_VIOLATION_SIZE, CS_ELIMIT);
    strbuf_free(&sb);

    /* Exactly at the cap: parsed, every attribute kept in order. */
    struct collected c = {0};
    struct xml_parser *p = xml_parser_new(1 << 20, 32, &H, &c);
    sb = many_attrs(HDR, XML_MAX_ATTRS);
    ck_assert_int_eq(xml_parser_feed(p, sb.data, sb.len), 0);
    ck_assert_uint_eq(c.count, 1);
    strbuf_append(&sb, "\n", 1);
    ck_assert_str_eq(c.stanzas.data, sb.data + strlen(HDR));
    xml_parser_free(&p);
    collected_free(&c);
    strbuf_free(&sb);
}
END_TEST

START_TEST(test_many_attributes_build)
{
    /* xml_parse_one() has no attribute cap (its text is our own), so it
     * shows that building and copying an element is linear: 100,000
     * attributes used to take minutes with a duplicate search per
     * attribute (far past the test timeout); now milliseconds. */
    enum { N = 100000 };
    struct strbuf sb = many_attrs("", N), out = {0};
    struct xml_node *n = xml_parse_one(sb.data, sb.len);
    ck_assert_ptr_nonnull(n);
    ck_assert_uint_eq(n->nattrs, N);
    ck_assert_str_eq(xml_attr(n, "type"), "get");
    ck_assert_str_eq(xml_attr(n, "a2"), "v2");
    ck_assert_str_eq(xml_attr(n, "a99999"), "v99999");
    ck_assert_ptr_null(xml_attr(n, "a100000"));
    xml_serialize(n, XML_NS_COMPONENT, &out);
    ck_assert_str_eq(out.data, sb.data);
    xml_free(n);
    strbuf_free(&out);
    strbuf_free(&sb);
}
END_TEST

START_TEST(test_duplicate_attributes_rejected)
{
    /* Building relies on expat rejecting duplicates, also through two
     * prefixes bound to one namespace. */
    expect_violation(HDR "<message a='1' a='2'/>", 65536, 32, XML_VIOLATION_SYNTAX, CS_EPROTO);
    expect_violation(HDR "<message xmlns:p='urn:x' xmlns:q='urn:x' p:a='1' q:a='2'/>", 65536, 32,
                     XML_VIOLATION_SYNTAX, CS_EPROTO);
    expect_violation(HDR "<message xml:lang='en' xml:lang='de'/>", 65536, 32, XML_VIOLATION_SYNTAX,
                     CS_EPROTO);
}
END_TEST

START_TEST(test_long_split_text)
{
    /* Text that expat hands over in many pieces (every entity is one)
     * arrives whole. */
    enum { N = 50000 };
    struct strbuf sb = {0};
    struct collected c = {0};
    struct xml_parser *p = xml_parser_new(1 << 20, 32, &H, &c);
    strbuf_append_str(&sb, HDR "<message><body>");
    for (int i = 0; i < N; i++)
        strbuf_append_str(&sb, "x&amp;");
    strbuf_append_str(&sb, "</body></message>");
    ck_assert_int_eq(xml_parser_feed(p, sb.data, sb.len), 0);
    ck_assert_uint_eq(c.count, 1);
    ck_assert_uint_eq(c.stanzas.len, strlen("<message><body></body></message>\n") + (size_t)N * 6);
    xml_parser_free(&p);
    collected_free(&c);
    strbuf_free(&sb);
}
END_TEST

START_TEST(test_empty_namespace_roundtrip)
{
    /* <foo xmlns=''/> is in no namespace; written as <foo/> inside a
     * jabber:component:accept stanza it would change namespace. */
    const char *in = "<message><foo xmlns=''/><bar xmlns='urn:x'><baz/></bar></message>";
    struct xml_node *m = test_parse_stanza(in), *again;
    struct strbuf sb = {0}, sb2 = {0};

    ck_assert_str_eq(xml_ns(m), XML_NS_COMPONENT);
    ck_assert_str_eq(xml_ns(xml_child(m, "foo", NULL)), "");
    ck_assert_ptr_nonnull(xml_child(m, "foo", ""));
    ck_assert_ptr_null(xml_child(m, "foo", XML_NS_COMPONENT));
    ck_assert_str_eq(xml_ns(xml_child(xml_child(m, "bar", NULL), "baz", NULL)), "urn:x");
    xml_serialize(m, XML_NS_COMPONENT, &sb);
    ck_assert_str_eq(sb.data, in);

    again = xml_parse_one(sb.data, sb.len);
    ck_assert_ptr_nonnull(again);
    ck_assert_str_eq(xml_ns(xml_child(again, "foo", NULL)), "");
    ck_assert_str_eq(xml_ns(xml_child(xml_child(again, "bar", NULL), "baz", NULL)), "urn:x");
    xml_serialize(again, XML_NS_COMPONENT, &sb2);
    ck_assert_str_eq(sb2.data, in);

    /* A copy keeps it too; where no namespace is in effect there is
     * nothing to declare. */
    struct xml_node *c = xml_copy(xml_child(m, "foo", NULL));
    sb2.len = 0;
    xml_serialize(c, XML_NS_COMPONENT, &sb2);
    ck_assert_str_eq(sb2.data, "<foo xmlns=''/>");
    sb2.len = 0;
    xml_serialize(c, NULL, &sb2);
    ck_assert_str_eq(sb2.data, "<foo/>");
    xml_free(c);
    xml_free(again);
    xml_free(m);
    strbuf_free(&sb);
    strbuf_free(&sb2);
}
END_TEST

START_TEST(test_xml_namespace_element_roundtrip)
{
    /* <xml:foo/> is well-formed input (the prefix is predefined); written
     * as <foo xmlns='http://www.w3.org/XML/1998/namespace'/> it would be
     * ill-formed, and the server would close our stream (fuzz_stream). */
    const char *in = "<message><xml:foo a='1'><bar/>t</xml:foo><baz/></message>";
    struct xml_node *m = test_parse_stanza(in), *again;
    struct strbuf sb = {0};

    ck_assert_str_eq(xml_ns(xml_child(m, "foo", NULL)), XML_NS_XML);
    xml_serialize(m, XML_NS_COMPONENT, &sb);
    ck_assert_str_eq(sb.data, in);
    again = xml_parse_one(sb.data, sb.len);
    ck_assert_ptr_nonnull(again);
    ck_assert_str_eq(xml_ns(xml_child(xml_child(again, "foo", NULL), "bar", NULL)),
                     XML_NS_COMPONENT);
    xml_free(again);
    xml_free(m);
    strbuf_free(&sb);
}
END_TEST

START_TEST(test_declared_xml_namespace_survives_any_split)
{
    /* What Prosody writes for a user's <xml:foo/>: expat refuses the
     * declaration, so the stream would restart and any user could cut
     * the component off.  Read as <xml:foo/> wherever the reads split it
     * (its children are in its namespace, as the bytes say), with nothing
     * else changed: text and attribute values keep their bytes. */
    static const char in[] = "<message from='u@a.test/r' to='c@s.a.test'><body>xmlns='http:"
                             "//www.w3.org/XML/1998/namespace'</body><foo xmlns='http://www.w3.o"
                             "rg/XML/1998/namespace' a='1'><bar/></foo><baz xmlns=\"http://www."
                             "w3.org/XML/1998/namespace\"/><q v=\"xmlns='http://www.w3.org/X"
                             "ML/1998/namespace'\"/></message>";
    static const char want[] = "<message from='u@a.test/r' to='c@s.a.test'><body>xmlns='"
                               "http://www.w3.org/XML/1998/namespace'</body><xml:foo a='1'>"
                               "<xml:bar/></xml:foo><xml:baz/><q v='xmlns=&apos;http://www.w3."
                               "org/XML/1998/namespace&apos;'/></message>\n";
    for (size_t cut = 0; cut <= sizeof(in) - 1; cut++) {
        struct collected c = {0};
        struct xml_parser *p = xml_parser_new(65536, 16, &H, &c);
        ck_assert_int_eq(xml_parser_feed(p, HDR, strlen(HDR)), 0);
        ck_assert_int_eq(xml_parser_feed(p, in, cut), 0);
        ck_assert_int_eq(xml_parser_feed(p, in + cut, sizeof(in) - 1 - cut), 0);
        ck_assert_uint_eq(c.count, 1);
        ck_assert_str_eq(c.stanzas.data, want);
        xml_parser_free(&p);
        collected_free(&c);
    }
}
END_TEST

START_TEST(test_empty_namespace_tree)
{
    /* Built in code: "" is no namespace, NULL inherits. */
    struct xml_node *m = xml_elem_new("message", NULL);
    struct xml_node *x = xml_add_child(m, "x", "");
    struct strbuf sb = {0};
    xml_add_child(x, "inherits", NULL);
    xml_add_child(x, "back", XML_NS_COMPONENT);
    xml_add_child(m, "body", NULL);
    ck_assert_str_eq(xml_ns(xml_first_elem(x)), "");
    xml_serialize(m, XML_NS_COMPONENT, &sb);
    ck_assert_str_eq(sb.data, "<message><x xmlns=''><inherits/>"
                              "<back xmlns='jabber:component:accept'/></x><body/></message>");
    xml_free(m);
    strbuf_free(&sb);
}
END_TEST

START_TEST(test_attribute_injection)
{
    /* A value that would close the attribute and open a new stanza if it
     * were written unescaped. */
    static const char *const values[] = {
        "x@a.test'><message to='victim.test'><body>injected",
        "x@a.test\"><message to=\"victim.test\"><body>injected</body></message><x a=\"",
        "a&amp;b &lt; c ]]> &#39;",
        "tab\there\nnew\rline  two  spaces",
        "",
    };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct xml_node *m = xml_elem_new("message", NULL), *back;
        struct strbuf sb = {0};
        xml_set_attr(m, "from", values[i]);
        xml_set_attr_ns(m, "urn:x", "y", values[i]);
        xml_add_text(xml_add_child(m, "body", NULL), values[i]);
        xml_serialize(m, XML_NS_COMPONENT, &sb);
        back = xml_parse_one(sb.data, sb.len);
        ck_assert_msg(back != NULL, "not well-formed: %s", sb.data);
        ck_assert_str_eq(back->name, "message");
        ck_assert_uint_eq(back->nattrs, 2);
        ck_assert_str_eq(xml_attr(back, "from"), values[i]);
        ck_assert_str_eq(xml_attr_ns(back, "urn:x", "y"), values[i]);
        ck_assert_uint_eq(xml_count_elems(back), 1);
        char *t = xml_text_dup(xml_child(back, "body", NULL));
        ck_assert_str_eq(t, values[i]);
        free(t);
        xml_free(back);
        xml_free(m);
        strbuf_free(&sb);
    }
    struct xml_node *m = xml_elem_new("message", NULL);
    struct strbuf sb = {0};
    xml_set_attr(m, "from", values[0]);
    xml_serialize(m, XML_NS_COMPONENT, &sb);
    ck_assert_str_eq(sb.data, "<message from='x@a.test&apos;&gt;&lt;message "
                              "to=&apos;victim.test&apos;&gt;&lt;body&gt;injected'/>");
    xml_free(m);
    strbuf_free(&sb);
}
END_TEST

START_TEST(test_parse_one_exactly_one)
{
    struct xml_node *n = xml_parse_one("<a x='1'/>", 10);
    ck_assert_ptr_nonnull(n);
    ck_assert_str_eq(n->name, "a");
    ck_assert_str_eq(xml_ns(n), XML_NS_COMPONENT);
    xml_free(n);
    ck_assert_ptr_null(xml_parse_one("<a/><b/>", 8));
    ck_assert_ptr_null(xml_parse_one("", 0));
    ck_assert_ptr_null(xml_parse_one("text", 4));
    ck_assert_ptr_null(xml_parse_one("<a>", 3));
    ck_assert_ptr_null(xml_parse_one("<a/></s><s>", 11));
}
END_TEST

/* Namespace URIs are stored once per declaration: a long default xmlns
 * on a stanza with many children, or a prefix used by many elements and
 * attributes, is one string shared by all of them and by copies. */
START_TEST(test_namespaces_shared)
{
    struct strbuf in = {0}, uri = {0};
    struct xml_node *st, *copy;
    struct xml_parser *p;
    struct collected c = {0};

    for (int i = 0; i < 4000; i++)
        strbuf_append_str(&uri, "urn:x");
    strbuf_printf(&in, HDR "<message xmlns='%s' xmlns:p='%s' to='a@b'>", uri.data, uri.data);
    for (int i = 0; i < 100; i++)
        strbuf_append_str(&in, "<a/><p:b p:c='1'/>");
    strbuf_append_str(&in, "</message>");
    st = xml_parse_one(in.data + strlen(HDR), in.len - strlen(HDR));
    ck_assert_ptr_nonnull(st);
    {
        const char *first_a = NULL, *first_b = NULL, *first_attr = NULL;
        for (struct xml_node *e = xml_first_elem(st); e; e = xml_next_elem(e)) {
            const char **seen = strcmp(e->name, "a") == 0 ? &first_a : &first_b;
            ck_assert_str_eq(xml_ns(e), uri.data);
            if (*seen == NULL)
                *seen = e->ns;
            ck_assert_ptr_eq(e->ns, *seen); /* the same string, not a copy */
            if (e->nattrs) {
                if (first_attr == NULL)
                    first_attr = e->attrs[0].ns;
                ck_assert_ptr_eq(e->attrs[0].ns, first_attr);
                ck_assert_ptr_eq(e->attrs[0].ns, first_b);
            }
        }
        ck_assert_ptr_eq(first_a, st->ns);
        ck_assert_ptr_nonnull(first_b);
    }
    copy = xml_copy(st);
    ck_assert_ptr_eq(xml_first_elem(copy)->ns, xml_first_elem(st)->ns);
    xml_free(st);
    /* The copy outlives the original's references. */
    ck_assert_str_eq(xml_ns(xml_first_elem(copy)), uri.data);
    xml_free(copy);

    /* The stream parser shares the stream root's default namespace too. */
    p = xml_parser_new(1 << 20, 32, &H, &c);
    ck_assert_int_eq(xml_parser_feed(p, in.data, in.len), 0);
    ck_assert_uint_eq(c.count, 1);
    xml_parser_free(&p);
    collected_free(&c);
    strbuf_free(&in);
    strbuf_free(&uri);
}
END_TEST

/* A prefix used by attributes on many elements is declared once in the
 * output, so serialising stays proportional to the tree. */
START_TEST(test_attribute_namespace_declared_once)
{
    struct strbuf in = {0}, uri = {0}, out = {0};
    struct xml_node *st, *again;
    for (int i = 0; i < 2000; i++)
        strbuf_append_str(&uri, "urn:y");
    strbuf_printf(&in, "<message xmlns:p='%s'><x>", uri.data);
    for (int i = 0; i < 500; i++)
        strbuf_append_str(&in, "<a p:b='1' xml:lang='en'/>");
    strbuf_append_str(&in, "</x></message>");
    st = xml_parse_one(in.data, in.len);
    ck_assert_ptr_nonnull(st);
    xml_serialize(st, XML_NS_COMPONENT, &out);
    ck_assert_uint_lt(out.len, in.len + in.len / 10); /* a0: is a byte longer than p: */
    ck_assert_ptr_nonnull(strstr(out.data, "<message xmlns:a0='urn:y"));
    ck_assert_ptr_null(strstr(out.data, "xmlns:a1"));
    ck_assert_ptr_nonnull(strstr(out.data, "<a a0:b='1' xml:lang='en'/>"));
    again = xml_parse_one(out.data, out.len);
    ck_assert_ptr_nonnull(again);
    {
        struct xml_node *a = xml_first_elem(xml_first_elem(again));
        ck_assert_str_eq(xml_attr_ns(a, uri.data, "b"), "1");
        ck_assert_str_eq(xml_attr(a, "xml:lang"), "en");
    }
    xml_free(again);
    xml_free(st);
    strbuf_free(&out);
    strbuf_free(&in);
    strbuf_free(&uri);
}
END_TEST

struct cut_seen {
    unsigned count, truncated;
    unsigned children[4];
    char *id[4];
};

static void cut_stanza(void *ud, struct xml_node *st)
{
    struct cut_seen *s = ud;
    if (s->count < 4) {
        s->children[s->count] = xml_count_elems(st);
        s->id[s->count] = strdup(xml_attr(st, "id") ? xml_attr(st, "id") : "");
    }
    s->truncated += st->truncated;
    s->count++;
}

/* A stanza under the byte limit whose tree would cost more than
 * XML_TREE_FACTOR times the limit (an element per 4 bytes) arrives cut:
 * its own element and attributes, no content, and the stream goes on. */
START_TEST(test_tree_budget_cuts_stanza)
{
    static const struct xml_parser_handlers h = {NULL, cut_stanza, NULL};
    struct cut_seen s = {0};
    const size_t max = 8192;
    struct xml_parser *p = xml_parser_new(max, 32, &h, &s);
    struct strbuf in = {0};
    size_t before;

    strbuf_append_str(&in, HDR "<message id='m1' to='ch@x'><body>hi</body></message>");
    before = in.len;
    strbuf_append_str(&in, "<message id='m2' to='ch@x'><x xmlns='urn:z'>");
    while (in.len - before < max - 64)
        strbuf_append_str(&in, "<a/>t");
    strbuf_append_str(&in,
                      "</x></message><iq id='i3' type='get'><ping xmlns='urn:xmpp:ping'/></iq>");
    ck_assert_int_eq(xml_parser_feed(p, in.data, in.len), 0);
    ck_assert_uint_eq(s.count, 3);
    ck_assert_uint_eq(s.truncated, 1);
    ck_assert_str_eq(s.id[1], "m2");
    ck_assert_uint_eq(s.children[0], 1);
    ck_assert_uint_eq(s.children[1], 0);
    ck_assert_uint_eq(s.children[2], 1);
    ck_assert_int_eq(xml_parser_violation(p), XML_VIOLATION_NONE);
    for (unsigned i = 0; i < 3; i++)
        free(s.id[i]);
    xml_parser_free(&p);
    strbuf_free(&in);
}
END_TEST

/* Dense but ordinary stanzas stay whole: a roster of short items close
 * to the byte limit. */
/* What any user can send through a server, which may pass on more than
 * it accepted: a stanza over the byte limit, nested deeper than the
 * depth limit, with too many attributes on the stanza or inside it.
 * Each arrives cut (the stanza's own addressing attributes kept, so it
 * can be answered) and the stream goes on. */
START_TEST(test_oversize_cut)
{
    static const struct xml_parser_handlers h = {NULL, cut_stanza, NULL};
    struct cut_seen s = {0};
    const size_t max = 4096;
    struct xml_parser *p = xml_parser_new(max, 16, &h, &s);
    struct strbuf in = {0};

    strbuf_append_str(&in, HDR "<message id='m1' to='ch@x'><body>");
    for (int i = 0; i < 2000; i++)
        strbuf_append_str(&in, "0123456789");
    strbuf_append_str(&in, "</body></message><message id='m2' to='ch@x'>");
    for (int i = 0; i < 40; i++)
        strbuf_append_str(&in, "<a>");
    for (int i = 0; i < 40; i++)
        strbuf_append_str(&in, "</a>");
    strbuf_append_str(&in, "</message><message id='m3' to='ch@x' from='u@y/r' type='chat'");
    for (unsigned i = 0; i < XML_MAX_ATTRS + 1; i++)
        strbuf_printf(&in, " a%u='v'", i);
    strbuf_append_str(&in, " xml:lang='de'><body>x</body></message><message id='m4'><x");
    for (unsigned i = 0; i < 600; i++)
        strbuf_printf(&in, " a%u=''", i);
    strbuf_append_str(&in, "/></message><iq id='i5' type='get'><ping xmlns='urn:xmpp:ping'/></iq>");
    /* In pieces, as it comes off a socket. */
    for (size_t at = 0; at < in.len; at += 1000) {
        size_t n = in.len - at < 1000 ? in.len - at : 1000;
        ck_assert_int_eq(xml_parser_feed(p, in.data + at, n), 0);
    }
    ck_assert_int_eq(xml_parser_violation(p), XML_VIOLATION_NONE);
    ck_assert_uint_eq(s.count, 5);
    ck_assert_uint_eq(s.truncated, 4);
    ck_assert_str_eq(s.id[0], "m1");
    ck_assert_str_eq(s.id[2], "m3");
    ck_assert_uint_eq(s.children[0], 0);
    ck_assert_uint_eq(s.children[1], 0);
    ck_assert_uint_eq(s.children[2], 0);
    ck_assert_uint_eq(s.children[3], 0);
    xml_parser_free(&p);
    for (unsigned i = 0; i < 4; i++)
        free(s.id[i]);

    /* The cut stanza keeps from, to, id, type and xml:lang, nothing else. */
    {
        struct collected c = {0};
        p = xml_parser_new(1 << 20, 32, &H, &c);
        strbuf_free(&in);
        strbuf_append_str(&in, HDR "<message id='m3' to='ch@x' from='u@y/r' type='chat'");
        for (unsigned i = 0; i < XML_MAX_ATTRS + 1; i++)
            strbuf_printf(&in, " a%u='v'", i);
        strbuf_append_str(&in, " xml:lang='de'><body>x</body></message>");
        ck_assert_int_eq(xml_parser_feed(p, in.data, in.len), 0);
        ck_assert_str_eq(c.stanzas.data, "<message id='m3' to='ch@x' from='u@y/r' type='chat' "
                                         "xml:lang='de'/>\n");
        xml_parser_free(&p);
        collected_free(&c);
    }
    strbuf_free(&in);
}
END_TEST

START_TEST(test_tree_budget_keeps_dense_roster)
{
    static const struct xml_parser_handlers h = {NULL, cut_stanza, NULL};
    struct cut_seen s = {0};
    const size_t max = 65536;
    struct xml_parser *p = xml_parser_new(max, 32, &h, &s);
    struct strbuf in = {0};
    unsigned items = 0;

    strbuf_append_str(&in, HDR "<iq id='r' type='result'><query xmlns='jabber:iq:roster'>");
    while (in.len < max - 200) {
        strbuf_printf(&in, "<item jid='u%u@a.t' subscription='both'><group>G</group></item>",
                      items);
        items++;
    }
    strbuf_append_str(&in, "</query></iq>");
    ck_assert_int_eq(xml_parser_feed(p, in.data, in.len), 0);
    ck_assert_uint_eq(s.count, 1);
    ck_assert_uint_eq(s.truncated, 0);
    free(s.id[0]);
    xml_parser_free(&p);
    strbuf_free(&in);
}
END_TEST

static Suite *xml_suite(void)
{
    Suite *s = suite_create("xml");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_escape_every_byte);
    tcase_add_test(tc, test_parse_stanzas_roundtrip);
    tcase_add_test(tc, test_parse_byte_by_byte);
    tcase_add_test(tc, test_every_split_point);
    tcase_add_test(tc, test_doctype_rejected);
    tcase_add_test(tc, test_pi_comment_rejected);
    tcase_add_test(tc, test_syntax_and_entities);
    tcase_add_test(tc, test_size_limit);
    tcase_add_test(tc, test_size_limit_is_per_stanza);
    tcase_add_test(tc, test_depth_limit);
    tcase_add_test(tc, test_oversize_cut);
    tcase_add_test(tc, test_stop_from_handler);
    tcase_add_test(tc, test_tree_api);
    tcase_add_test(tc, test_namespaced_attribute_roundtrip);
    tcase_add_test(tc, test_attribute_cap);
    tcase_add_test(tc, test_many_attributes_build);
    tcase_add_test(tc, test_duplicate_attributes_rejected);
    tcase_add_test(tc, test_long_split_text);
    tcase_add_test(tc, test_empty_namespace_roundtrip);
    tcase_add_test(tc, test_xml_namespace_element_roundtrip);
    tcase_add_test(tc, test_declared_xml_namespace_survives_any_split);
    tcase_add_test(tc, test_empty_namespace_tree);
    tcase_add_test(tc, test_attribute_injection);
    tcase_add_test(tc, test_parse_one_exactly_one);
    tcase_add_test(tc, test_namespaces_shared);
    tcase_add_test(tc, test_attribute_namespace_declared_once);
    tcase_add_test(tc, test_tree_budget_cuts_stanza);
    tcase_add_test(tc, test_tree_budget_keeps_dense_roster);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(xml_suite());
}
