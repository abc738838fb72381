/* xml.c - stanza trees: building, copying, attributes, lookups, and the
 * namespace strings they share.  The serializer is xmlwrite.c, the
 * bounded stream parser xmlparse.c (see cs_xml.h). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xml_priv.h"

/* ---- Namespace URIs, shared ----
 *
 * Every element and namespaced attribute refers to its namespace URI, and
 * a peer can make that URI as long as a stanza allows while declaring it
 * once for thousands of elements.  So a URI is never copied per element:
 * the parser makes one string per declaration, and elements, attributes
 * and copies share it by reference count.  The URI lives in a block after
 * its count.  "" (no namespace) and XML_NS_XML are static and never
 * counted. */

struct ns_block {
    size_t refs;
};

const char xml_ns_none[] = "";
const char xml_ns_xml[] = XML_NS_XML;

static bool ns_static(const char *ns)
{
    return ns == xml_ns_none || ns == xml_ns_xml;
}

static struct ns_block *ns_block_of(const char *ns)
{
    return (struct ns_block *)(void *)((char *)(uintptr_t)ns - sizeof(struct ns_block));
}

const char *xml_ns_new(const char *uri, size_t len)
{
    struct ns_block *b;
    char *s;
    if (len == 0)
        return xml_ns_none;
    if (len == sizeof(xml_ns_xml) - 1 && memcmp(uri, xml_ns_xml, len) == 0)
        return xml_ns_xml;
    b = xmalloc(sizeof(*b) + len + 1);
    b->refs = 1;
    s = (char *)(b + 1);
    memcpy(s, uri, len);
    s[len] = '\0';
    return s;
}

const char *xml_ns_ref(const char *ns)
{
    if (ns && !ns_static(ns))
        ns_block_of(ns)->refs++;
    return ns;
}

void xml_ns_unref(const char *ns)
{
    struct ns_block *b;
    if (ns == NULL || ns_static(ns))
        return;
    b = ns_block_of(ns);
    if (--b->refs == 0)
        free(b);
}

/* ---- Trees ---- */

void xml_set_ns(struct xml_node *node, const char *ns)
{
    xml_ns_unref(node->ns);
    node->ns = ns ? xml_ns_new(ns, strlen(ns)) : NULL;
}

struct xml_node *xml_elem_new(const char *name, const char *ns)
{
    struct xml_node *n = xcalloc(1, sizeof(*n));
    n->type = XML_ELEMENT;
    n->name = xstrdup(name);
    n->ns = ns ? xml_ns_new(ns, strlen(ns)) : NULL;
    return n;
}

/* An element sharing ns (a reference is taken). */
static struct xml_node *elem_shared(const char *name, const char *ns)
{
    struct xml_node *n = xcalloc(1, sizeof(*n));
    n->type = XML_ELEMENT;
    n->name = xstrdup(name);
    n->ns = xml_ns_ref(ns);
    return n;
}

struct xml_node *xml_text_new(const char *text, size_t len)
{
    struct xml_node *n = xcalloc(1, sizeof(*n));
    n->type = XML_TEXT;
    n->text = xstrndup(text, len);
    n->text_len = len;
    n->text_cap = len + 1;
    return n;
}

struct xml_node *xml_append(struct xml_node *parent, struct xml_node *child)
{
    child->parent = parent;
    child->next = NULL;
    if (parent->last_child)
        parent->last_child->next = child;
    else
        parent->first_child = child;
    parent->last_child = child;
    return child;
}

struct xml_node *xml_add_child(struct xml_node *parent, const char *name, const char *ns)
{
    /* A child in its parent's namespace shares the parent's string. */
    if (ns && parent->ns && strcmp(ns, parent->ns) == 0)
        return xml_append(parent, elem_shared(name, parent->ns));
    return xml_append(parent, xml_elem_new(name, ns));
}

void xml_add_text(struct xml_node *parent, const char *text)
{
    xml_append(parent, xml_text_new(text, strlen(text)));
}

void xml_free(struct xml_node *node)
{
    while (node) {
        struct xml_node *next = node->next;
        xml_free(node->first_child);
        for (unsigned i = 0; i < node->nattrs; i++) {
            xml_ns_unref(node->attrs[i].ns);
            free(node->attrs[i].name);
            free(node->attrs[i].value);
        }
        free(node->attrs);
        free(node->name);
        xml_ns_unref(node->ns);
        free(node->text);
        free(node);
        /* Only siblings of a child list are freed iteratively; a detached
         * root has next == NULL. */
        node = next;
    }
}

void xml_attrs_reserve(struct xml_node *node, unsigned n)
{
    if (node->attrs_cap - node->nattrs >= n)
        return;
    unsigned cap = node->attrs_cap ? node->attrs_cap : 4;
    while (cap - node->nattrs < n)
        cap *= 2;
    node->attrs = xrealloc(node->attrs, cap * sizeof(*node->attrs));
    node->attrs_cap = cap;
}

void xml_attr_push(struct xml_node *node, const char *ns, const char *name, size_t name_len,
                   const char *value)
{
    struct xml_attr *a;
    xml_attrs_reserve(node, 1);
    a = &node->attrs[node->nattrs++];
    a->ns = ns;
    a->name = xstrndup(name, name_len);
    a->value = xstrdup(value);
}

struct xml_node *xml_copy(const struct xml_node *node)
{
    struct xml_node *c;
    if (node->type == XML_TEXT)
        return xml_text_new(node->text, node->text_len);
    c = elem_shared(node->name, node->ns); /* namespaces are shared, not copied */
    xml_attrs_reserve(c, node->nattrs);
    for (unsigned i = 0; i < node->nattrs; i++) {
        const struct xml_attr *a = &node->attrs[i];
        xml_attr_push(c, xml_ns_ref(a->ns), a->name, strlen(a->name), a->value);
    }
    for (const struct xml_node *ch = node->first_child; ch; ch = ch->next)
        xml_append(c, xml_copy(ch));
    return c;
}

static int ns_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static struct xml_attr *find_attr(const struct xml_node *node, const char *ns, const char *name)
{
    for (unsigned i = 0; i < node->nattrs; i++) {
        if (strcmp(node->attrs[i].name, name) == 0 && ns_eq(node->attrs[i].ns, ns))
            return &node->attrs[i];
    }
    return NULL;
}

/* Maps "xml:lang" style names onto (XML_NS_XML, "lang"). */
static const char *split_xml_prefix(const char *name, const char **ns_r)
{
    if (strncmp(name, "xml:", 4) == 0) {
        *ns_r = XML_NS_XML;
        return name + 4;
    }
    *ns_r = NULL;
    return name;
}

void xml_set_attr_ns(struct xml_node *node, const char *ns, const char *name, const char *value)
{
    struct xml_attr *a = find_attr(node, ns, name);
    if (a) {
        free(a->value);
        a->value = xstrdup(value);
        return;
    }
    /* O(attributes) per call: fine for the few a handler sets, which is
     * why parsing and copying use xml_attr_push() instead. */
    xml_attr_push(node, ns ? xml_ns_new(ns, strlen(ns)) : NULL, name, strlen(name), value);
}

void xml_set_attr(struct xml_node *node, const char *name, const char *value)
{
    const char *ns;
    const char *local = split_xml_prefix(name, &ns);
    xml_set_attr_ns(node, ns, local, value);
}

const char *xml_attr_ns(const struct xml_node *node, const char *ns, const char *name)
{
    const struct xml_attr *a = find_attr(node, ns, name);
    return a ? a->value : NULL;
}

const char *xml_attr(const struct xml_node *node, const char *name)
{
    const char *ns;
    const char *local = split_xml_prefix(name, &ns);
    return xml_attr_ns(node, ns, local);
}

void xml_remove_attr(struct xml_node *node, const char *name)
{
    const char *ns;
    const char *local = split_xml_prefix(name, &ns);
    struct xml_attr *a = find_attr(node, ns, local);
    if (a == NULL)
        return;
    xml_ns_unref(a->ns);
    free(a->name);
    free(a->value);
    unsigned i = (unsigned)(a - node->attrs);
    memmove(a, a + 1, (node->nattrs - i - 1) * sizeof(*a));
    node->nattrs--;
}

const char *xml_ns(const struct xml_node *node)
{
    for (; node; node = node->parent) {
        if (node->ns)
            return node->ns;
    }
    return NULL;
}

struct xml_node *xml_first_elem(const struct xml_node *node)
{
    struct xml_node *c = node->first_child;
    while (c && c->type != XML_ELEMENT)
        c = c->next;
    return c;
}

struct xml_node *xml_next_elem(const struct xml_node *node)
{
    struct xml_node *c = node->next;
    while (c && c->type != XML_ELEMENT)
        c = c->next;
    return c;
}

unsigned xml_count_elems(const struct xml_node *node)
{
    unsigned n = 0;
    for (struct xml_node *c = xml_first_elem(node); c; c = xml_next_elem(c))
        n++;
    return n;
}

struct xml_node *xml_child(const struct xml_node *node, const char *name, const char *ns)
{
    for (struct xml_node *c = xml_first_elem(node); c; c = xml_next_elem(c)) {
        if (name && strcmp(c->name, name) != 0)
            continue;
        if (ns && !ns_eq(xml_ns(c), ns))
            continue;
        return c;
    }
    return NULL;
}

char *xml_text_dup(const struct xml_node *node)
{
    struct strbuf sb = {0};
    strbuf_reserve(&sb, 0);
    for (const struct xml_node *c = node->first_child; c; c = c->next) {
        if (c->type == XML_TEXT)
            strbuf_append(&sb, c->text, c->text_len);
    }
    sb.data[sb.len] = '\0';
    return sb.data;
}
