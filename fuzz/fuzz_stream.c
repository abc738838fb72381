/* fuzz_stream.c - the component stream parser with the daemon's limits:
 * the input is what a server would send after the stream header.  Every
 * stanza handed over is serialised again (the tree must be sound), and a
 * violation must stop the parser for good until a reset. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_stanza.h"
#include "cs_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long stanzas;

static void on_start(void *ud, const struct xml_node *root)
{
}

static void on_stanza(void *ud, struct xml_node *st)
{
    struct strbuf sb = {0};
    struct stanza_in in;
    xml_serialize(st, XML_NS_COMPONENT, &sb);
    /* Our serialiser's output parses back whole. */
    if (!st->truncated && sb.len > 0) {
        struct xml_node *again = xml_parse_one(sb.data, sb.len);
        if (again == NULL)
            abort();
        xml_free(again);
    }
    stanza_in_parse(&in, st, 0);
    stanza_in_deinit(&in);
    strbuf_free(&sb);
    stanzas++;
}

static void on_end(void *ud)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char header[] = "<stream:stream xmlns='jabber:component:accept' "
                                 "xmlns:stream='http://etherx.jabber.org/streams' id='f'>";
    struct xml_parser_handlers h = {on_start, on_stanza, on_end};
    struct xml_parser *p = xml_parser_new(65536, 32, &h, NULL);
    int r = xml_parser_feed(p, header, sizeof(header) - 1);
    /* In two pieces, as reads split a stream. */
    size_t half = size / 2;
    if (r == 0)
        r = xml_parser_feed(p, (const char *)data, half);
    if (r == 0)
        r = xml_parser_feed(p, (const char *)data + half, size - half);
    if (r != 0 && xml_parser_feed(p, "<a/>", 4) == 0)
        abort(); /* a violation stays until the reset */
    xml_parser_free(&p);
    return 0;
}
