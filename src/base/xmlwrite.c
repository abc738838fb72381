/* xmlwrite.c - serialising stanza trees, and escaping text and attribute
 * values: output stays proportional to the tree (cs_xml.h). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xml_priv.h"

/* Which bytes xml_escape() rewrites: [0] in text, [1] in attribute values. */
static const bool escaped[2][256] = {
    {['&'] = true, ['<'] = true, ['>'] = true, ['\r'] = true},
    {['&'] = true,
     ['<'] = true,
     ['>'] = true,
     ['\r'] = true,
     ['\''] = true,
     ['"'] = true,
     ['\n'] = true,
     ['\t'] = true},
};

void xml_escape(struct strbuf *sb, const char *s, size_t len, bool attr)
{
    const bool *esc = escaped[attr ? 1 : 0];
    size_t start = 0;
    strbuf_reserve(sb, len);
    for (size_t i = 0; i < len; i++) {
        const char *rep;
        if (!esc[(unsigned char)s[i]])
            continue; /* the common case: one table lookup a byte */
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '\'': rep = "&apos;"; break;
        case '"': rep = "&quot;"; break;
        /* Whitespace in attributes would be normalised away by the peer. */
        case '\n': rep = "&#10;"; break;
        case '\t': rep = "&#9;"; break;
        default: rep = "&#13;"; break; /* '\r' */
        }
        strbuf_append(sb, s + start, i - start);
        strbuf_append_str(sb, rep);
        start = i + 1;
    }
    strbuf_append(sb, s + start, len - start);
}

/* Prefixes for namespaced attributes other than xml:*, declared once on
 * the top element for the whole tree (a0, a1, ...), so that output stays
 * proportional to the tree: declaring a long URI again on every element
 * that uses it would let a small stanza serialise to gigabytes.  Looked up
 * by the URI's pointer (shared strings: one per declaration parsed) in an
 * open-addressing table. */
struct attr_prefixes {
    const char **ns; /* slot -> URI, NULL = empty */
    unsigned *index; /* slot -> prefix number */
    size_t cap;      /* power of two, or 0 */
    unsigned n;      /* URIs, in order of first use */
    const char **order;
};

static size_t ap_slot(const struct attr_prefixes *ap, const char *ns)
{
    size_t i = (size_t)(((uintptr_t)ns >> 3) * 0x9E3779B97F4A7C15ull) & (ap->cap - 1);
    while (ap->ns[i] && ap->ns[i] != ns)
        i = (i + 1) & (ap->cap - 1);
    return i;
}

static void ap_add(struct attr_prefixes *ap, const char *ns)
{
    size_t i;
    if (ap->cap == 0 || (size_t)(ap->n + 1) * 2 > ap->cap) {
        struct attr_prefixes old = *ap;
        ap->cap = old.cap ? old.cap * 2 : 16;
        ap->ns = xcalloc(ap->cap, sizeof(*ap->ns));
        ap->index = xcalloc(ap->cap, sizeof(*ap->index));
        ap->order = xrealloc(old.order, ap->cap * sizeof(*ap->order));
        for (size_t j = 0; j < old.cap; j++) {
            if (old.ns[j]) {
                size_t k = ap_slot(ap, old.ns[j]);
                ap->ns[k] = old.ns[j];
                ap->index[k] = old.index[j];
            }
        }
        free(old.ns);
        free(old.index);
    }
    i = ap_slot(ap, ns);
    if (ap->ns[i] == NULL) {
        ap->ns[i] = ns;
        ap->index[i] = ap->n;
        ap->order[ap->n++] = ns;
    }
}

/* Collects the attribute namespaces of element n and its descendants
 * (xml:* needs no declaration; xml_ns_new() maps XML_NS_XML onto xml_ns_xml). */
static void collect_attr_ns(const struct xml_node *n, struct attr_prefixes *ap)
{
    for (unsigned i = 0; i < n->nattrs; i++) {
        if (n->attrs[i].ns && n->attrs[i].ns != xml_ns_xml)
            ap_add(ap, n->attrs[i].ns);
    }
    for (const struct xml_node *c = n->first_child; c; c = c->next) {
        if (c->type == XML_ELEMENT)
            collect_attr_ns(c, ap);
    }
}

static void serialize(const struct xml_node *n, const char *in_ns, const struct attr_prefixes *ap,
                      bool top, struct strbuf *sb)
{
    const char *ns;
    bool xml_prefix;

    if (n->type == XML_TEXT) {
        xml_escape(sb, n->text, n->text_len, false);
        return;
    }
    ns = n->ns ? n->ns : in_ns;
    /* An element of the XML namespace (<xml:foo/>, well-formed input)
     * keeps its predefined prefix: that namespace may not be declared,
     * so xmlns='...' would be ill-formed, and the peer would close the
     * stream.  Its children stay in the namespace in effect. */
    xml_prefix = ns && strcmp(ns, XML_NS_XML) == 0;
    strbuf_append(sb, "<", 1);
    if (xml_prefix)
        strbuf_append_str(sb, "xml:");
    strbuf_append_str(sb, n->name);
    /* ns == NULL only when in_ns is NULL too.  "" (no namespace) differs
     * from any namespace in effect and is written as xmlns=''.  Shared
     * strings make the common case a pointer compare. */
    if (!xml_prefix && ns && ns != in_ns && strcmp(ns, in_ns ? in_ns : "") != 0) {
        strbuf_append_str(sb, " xmlns='");
        xml_escape(sb, ns, strlen(ns), true);
        strbuf_append(sb, "'", 1);
    }
    if (top) {
        /* The top element declares every attribute prefix of the tree. */
        for (unsigned i = 0; i < ap->n; i++) {
            strbuf_printf(sb, " xmlns:a%u='", i);
            xml_escape(sb, ap->order[i], strlen(ap->order[i]), true);
            strbuf_append(sb, "'", 1);
        }
    }
    for (unsigned i = 0; i < n->nattrs; i++) {
        const struct xml_attr *a = &n->attrs[i];
        strbuf_append(sb, " ", 1);
        if (a->ns == xml_ns_xml)
            strbuf_append_str(sb, "xml:");
        else if (a->ns)
            strbuf_printf(sb, "a%u:", ap->index[ap_slot(ap, a->ns)]);
        strbuf_append_str(sb, a->name);
        strbuf_append(sb, "='", 2);
        xml_escape(sb, a->value, strlen(a->value), true);
        strbuf_append(sb, "'", 1);
    }
    if (n->first_child == NULL) {
        strbuf_append(sb, "/>", 2);
        return;
    }
    strbuf_append(sb, ">", 1);
    for (const struct xml_node *c = n->first_child; c; c = c->next)
        serialize(c, xml_prefix ? in_ns : ns, ap, false, sb);
    strbuf_append(sb, "</", 2);
    if (xml_prefix)
        strbuf_append_str(sb, "xml:");
    strbuf_append_str(sb, n->name);
    strbuf_append(sb, ">", 1);
}

void xml_serialize(const struct xml_node *node, const char *default_ns, struct strbuf *sb)
{
    struct attr_prefixes ap = {0};

    if (node->type == XML_ELEMENT)
        collect_attr_ns(node, &ap);
    serialize(node, default_ns, &ap, true, sb);
    free(ap.ns);
    free(ap.index);
    free(ap.order);
}
