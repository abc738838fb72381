/* xml.c - stanza trees, serializer and the bounded expat stream parser.
 *
 * The parser enforces RFC 6120 section 11.1 (restricted XML) and three
 * resource limits (bytes per top-level element, nesting depth, attributes
 * per element) so that a peer can never make us allocate or work without
 * bound; building a parsed element is linear in its size.  See cs_xml.h. */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "cs_error.h"
#include "cs_hash.h"
#include "cs_xml.h"

/* Separator between namespace URI and local name in expat's names. */
#define NS_SEP '\x1f'

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

static const char ns_none[] = "";
static const char ns_xml[] = XML_NS_XML;

static bool ns_static(const char *ns)
{
    return ns == ns_none || ns == ns_xml;
}

static struct ns_block *ns_block_of(const char *ns)
{
    return (struct ns_block *)(void *)((char *)(uintptr_t)ns - sizeof(struct ns_block));
}

/* A new reference to a URI of len bytes; release with ns_unref(). */
static const char *ns_new(const char *uri, size_t len)
{
    struct ns_block *b;
    char *s;
    if (len == 0)
        return ns_none;
    if (len == sizeof(ns_xml) - 1 && memcmp(uri, ns_xml, len) == 0)
        return ns_xml;
    b = xmalloc(sizeof(*b) + len + 1);
    b->refs = 1;
    s = (char *)(b + 1);
    memcpy(s, uri, len);
    s[len] = '\0';
    return s;
}

/* One more reference to a shared URI (NULL stays NULL). */
static const char *ns_ref(const char *ns)
{
    if (ns && !ns_static(ns))
        ns_block_of(ns)->refs++;
    return ns;
}

static void ns_unref(const char *ns)
{
    struct ns_block *b;
    if (ns == NULL || ns_static(ns))
        return;
    b = ns_block_of(ns);
    if (--b->refs == 0)
        free(b);
}

/* ---- Trees ---- */

struct xml_node *xml_elem_new(const char *name, const char *ns)
{
    struct xml_node *n = xcalloc(1, sizeof(*n));
    n->type = XML_ELEMENT;
    n->name = xstrdup(name);
    n->ns = ns ? ns_new(ns, strlen(ns)) : NULL;
    return n;
}

/* An element sharing ns (a reference is taken). */
static struct xml_node *elem_shared(const char *name, const char *ns)
{
    struct xml_node *n = xcalloc(1, sizeof(*n));
    n->type = XML_ELEMENT;
    n->name = xstrdup(name);
    n->ns = ns_ref(ns);
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
            ns_unref(node->attrs[i].ns);
            free(node->attrs[i].name);
            free(node->attrs[i].value);
        }
        free(node->attrs);
        free(node->name);
        ns_unref(node->ns);
        free(node->text);
        free(node);
        /* Only siblings of a child list are freed iteratively; a detached
         * root has next == NULL. */
        node = next;
    }
}

/* Makes room for n more attributes at once. */
static void attrs_reserve(struct xml_node *node, unsigned n)
{
    if (node->attrs_cap - node->nattrs >= n)
        return;
    unsigned cap = node->attrs_cap ? node->attrs_cap : 4;
    while (cap - node->nattrs < n)
        cap *= 2;
    node->attrs = xrealloc(node->attrs, cap * sizeof(*node->attrs));
    node->attrs_cap = cap;
}

/* Appends an attribute without looking for one of the same name, so that
 * building an element is linear in its attributes: only for callers that
 * know there is none (expat rejects duplicate attributes, and a copy's
 * source has none).  Takes over the reference ns (NULL: unqualified);
 * copies name and value. */
static void attr_push(struct xml_node *node, const char *ns, const char *name, size_t name_len,
                      const char *value)
{
    struct xml_attr *a;
    attrs_reserve(node, 1);
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
    attrs_reserve(c, node->nattrs);
    for (unsigned i = 0; i < node->nattrs; i++) {
        const struct xml_attr *a = &node->attrs[i];
        attr_push(c, ns_ref(a->ns), a->name, strlen(a->name), a->value);
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
     * why parsing and copying use attr_push() instead. */
    attr_push(node, ns ? ns_new(ns, strlen(ns)) : NULL, name, strlen(name), value);
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
    ns_unref(a->ns);
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

/* ---- Serializer ---- */

void xml_escape(struct strbuf *sb, const char *s, size_t len, bool attr)
{
    size_t start = 0;
    strbuf_reserve(sb, len);
    for (size_t i = 0; i < len; i++) {
        const char *rep;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '\'': rep = attr ? "&apos;" : NULL; break;
        case '"': rep = attr ? "&quot;" : NULL; break;
        /* Whitespace in attributes would be normalised away by the peer. */
        case '\n': rep = attr ? "&#10;" : NULL; break;
        case '\r': rep = "&#13;"; break;
        case '\t': rep = attr ? "&#9;" : NULL; break;
        default: rep = NULL; break;
        }
        if (rep) {
            strbuf_append(sb, s + start, i - start);
            strbuf_append_str(sb, rep);
            start = i + 1;
        }
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
 * (xml:* needs no declaration; ns_new() maps XML_NS_XML onto ns_xml). */
static void collect_attr_ns(const struct xml_node *n, struct attr_prefixes *ap)
{
    for (unsigned i = 0; i < n->nattrs; i++) {
        if (n->attrs[i].ns && n->attrs[i].ns != ns_xml)
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

    if (n->type == XML_TEXT) {
        xml_escape(sb, n->text, n->text_len, false);
        return;
    }
    ns = n->ns ? n->ns : in_ns;
    strbuf_append(sb, "<", 1);
    strbuf_append_str(sb, n->name);
    /* ns == NULL only when in_ns is NULL too.  "" (no namespace) differs
     * from any namespace in effect and is written as xmlns=''.  Shared
     * strings make the common case a pointer compare. */
    if (ns && ns != in_ns && strcmp(ns, in_ns ? in_ns : "") != 0) {
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
        if (a->ns == ns_xml)
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
        serialize(c, ns, ap, false, sb);
    strbuf_append(sb, "</", 2);
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

/* ---- Parser ---- */

/* A namespace declaration in scope: the prefix's innermost binding, with
 * the outer one it hides. */
struct binding {
    struct binding *prev;
    const char *ns; /* shared reference; NULL: xmlns='' undeclares */
    size_t ns_len;
    char prefix[]; /* "" for the default namespace */
};

struct xml_parser {
    XML_Parser expat;
    const struct xml_parser_handlers *h;
    void *ud;
    size_t max_bytes;
    unsigned max_depth;
    unsigned max_attrs;    /* per element: XML_MAX_ATTRS, see xml_parse_one() */
    size_t max_tree_bytes; /* what one stanza's tree may cost */

    unsigned level;          /* 0 = outside the root, 1 = in root, 2 = in a stanza... */
    struct xml_node *stanza; /* top-level element being built */
    struct xml_node *cur;    /* innermost open element of stanza; NULL once cut */
    size_t tree_bytes;       /* what the stanza's tree costs so far */
    long long mark;          /* byte offset where the current element began */
    long long fed;           /* bytes fed since reset */
    struct hash bindings;    /* prefix -> struct binding, innermost first */

    enum xml_violation violation;
    char error[160];
    bool stopped;
};

static void violate(struct xml_parser *p, enum xml_violation v, const char *msg)
{
    if (p->violation == XML_VIOLATION_NONE) {
        p->violation = v;
        cs_strlcpy(p->error, msg, sizeof(p->error));
    }
    XML_StopParser(p->expat, XML_FALSE);
}

/* What one heap block costs beyond its size (malloc's header and
 * rounding, roughly): the tree's cost counts blocks, not just bytes. */
#define XML_BLOCK_COST 16

/* Counts bytes of tree for the stanza being built.  Over the budget the
 * stanza is cut: what was built below it is freed, the rest of its
 * content is read and dropped, and the handler gets the stanza's own
 * element marked truncated.  Returns false once the stanza is cut. */
static bool charge(struct xml_parser *p, size_t bytes)
{
    if (p->level < 2)
        return true; /* the stream root is no stanza */
    if (p->stanza && p->stanza->truncated)
        return false;
    p->tree_bytes += bytes;
    if (p->tree_bytes <= p->max_tree_bytes || p->stanza == NULL)
        return true; /* the stanza's own element is always kept */
    p->stanza->truncated = true;
    xml_free(p->stanza->first_child);
    p->stanza->first_child = p->stanza->last_child = NULL;
    p->cur = NULL;
    return false;
}

static void XMLCALL on_ns_start(void *ud, const char *prefix, const char *uri)
{
    struct xml_parser *p = ud;
    size_t plen = prefix ? strlen(prefix) : 0;
    struct binding *b = xmalloc(sizeof(*b) + plen + 1);

    memcpy(b->prefix, prefix ? prefix : "", plen + 1);
    b->ns_len = uri ? strlen(uri) : 0;
    b->ns = uri ? ns_new(uri, b->ns_len) : NULL;
    b->prev = hash_get(&p->bindings, b->prefix);
    hash_put(&p->bindings, b->prefix, b);
}

static void binding_pop(struct xml_parser *p, const char *prefix)
{
    struct binding *b = hash_get(&p->bindings, prefix);
    if (b == NULL)
        return;
    if (b->prev)
        hash_put(&p->bindings, b->prev->prefix, b->prev);
    else
        hash_del(&p->bindings, prefix);
    ns_unref(b->ns);
    free(b);
}

static void XMLCALL on_ns_end(void *ud, const char *prefix)
{
    binding_pop(ud, prefix ? prefix : "");
}

static void bindings_clear(struct xml_parser *p)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&p->bindings, &pos, &k, &v)) {
        struct binding *b = v;
        while (b) {
            struct binding *prev = b->prev;
            ns_unref(b->ns);
            free(b);
            b = prev;
        }
    }
    hash_clear(&p->bindings);
}

/* Splits an expat name ("local", "uri<SEP>local" or
 * "uri<SEP>local<SEP>prefix": names come as triplets) into its local
 * part (*len_r bytes at the result) and a reference to its namespace in
 * *ns_r: the string of the declaration in scope for its prefix, so that
 * a URI declared once is stored once however many elements use it.  NULL
 * when the name has no namespace (expat resolves every prefix and default
 * namespace). */
static const char *split_name(struct xml_parser *p, const char *qname, const char **ns_r,
                              size_t *len_r)
{
    const char *sep = strchr(qname, NS_SEP), *local, *psep;
    const struct binding *b;
    if (sep == NULL) {
        *ns_r = NULL;
        *len_r = strlen(qname);
        return qname;
    }
    local = sep + 1;
    psep = strchr(local, NS_SEP);
    *len_r = psep ? (size_t)(psep - local) : strlen(local);
    b = hash_get(&p->bindings, psep ? psep + 1 : "");
    if (b && b->ns && b->ns_len == (size_t)(sep - qname))
        *ns_r = ns_ref(b->ns);
    else /* xml:*, whose prefix is never declared */
        *ns_r = ns_new(qname, (size_t)(sep - qname));
    return local;
}

/* What element n costs, as charge() counts it. */
static size_t elem_cost(const struct xml_node *n)
{
    size_t cost = sizeof(*n) + XML_BLOCK_COST + strlen(n->name) + 1 + XML_BLOCK_COST;
    if (n->attrs_cap)
        cost += n->attrs_cap * sizeof(struct xml_attr) + XML_BLOCK_COST;
    for (unsigned i = 0; i < n->nattrs; i++)
        cost += strlen(n->attrs[i].name) + strlen(n->attrs[i].value) + 2 + 2 * XML_BLOCK_COST;
    return cost;
}

/* Builds an element from expat's start event: nattrs name/value pairs in
 * attrs.  Linear in the size of its start tag: expat has already
 * rejected duplicate attributes (also those whose prefixes name the same
 * namespace).  NULL when its cost puts the stanza over its budget (what
 * was built for it is freed at once). */
static struct xml_node *build_elem(struct xml_parser *p, const char *qname, const char **attrs,
                                   unsigned nattrs)
{
    const char *ns;
    size_t len;
    const char *local = split_name(p, qname, &ns, &len);
    struct xml_node *n = xcalloc(1, sizeof(*n));

    n->type = XML_ELEMENT;
    n->name = xstrndup(local, len);
    /* No namespace is recorded as "", not NULL, which would inherit the
     * parent's: <foo xmlns=''/> must keep its empty namespace. */
    n->ns = ns ? ns : ns_none;
    attrs_reserve(n, nattrs);
    for (unsigned i = 0; i < nattrs; i++) {
        const char *ans;
        const char *alocal = split_name(p, attrs[2 * i], &ans, &len);
        attr_push(n, ans, alocal, len, attrs[2 * i + 1]);
    }
    if (!charge(p, elem_cost(n))) {
        xml_free(n);
        return NULL;
    }
    return n;
}

static bool over_size(struct xml_parser *p)
{
    /* The end of the current event: one character-data event can carry a
     * whole oversized text in one go. */
    long long at = XML_GetCurrentByteIndex(p->expat) + XML_GetCurrentByteCount(p->expat);
    if (at >= 0 && at - p->mark > (long long)p->max_bytes) {
        violate(p, XML_VIOLATION_SIZE, "stanza larger than max_stanza_bytes");
        return true;
    }
    return false;
}

static void XMLCALL on_start(void *ud, const char *name, const char **attrs)
{
    struct xml_parser *p = ud;
    struct xml_node *n;
    unsigned nattrs = 0;

    if (p->violation || over_size(p))
        return;
    if (p->level > p->max_depth) {
        violate(p, XML_VIOLATION_DEPTH, "element depth exceeds max_depth");
        return;
    }
    while (attrs[2 * nattrs] != NULL && nattrs <= p->max_attrs)
        nattrs++;
    if (nattrs > p->max_attrs) {
        char msg[80];
        snprintf(msg, sizeof(msg), "element has more than %u attributes", p->max_attrs);
        violate(p, XML_VIOLATION_SIZE, msg);
        return;
    }
    p->level++;
    if (p->level > 2 && p->cur == NULL)
        return; /* the stanza was cut: its content is dropped */
    if (p->level == 2)
        p->tree_bytes = 0;
    n = build_elem(p, name, attrs, nattrs);
    if (p->level == 1) {
        if (p->h->stream_start)
            p->h->stream_start(p->ud, n);
        xml_free(n);
        p->mark = XML_GetCurrentByteIndex(p->expat) + XML_GetCurrentByteCount(p->expat);
        return;
    }
    if (p->level == 2) {
        p->stanza = p->cur = n;
        return;
    }
    if (n == NULL)
        return; /* cut by this element */
    xml_append(p->cur, n);
    p->cur = n;
}

static void XMLCALL on_end(void *ud, const char *name)
{
    struct xml_parser *p = ud;

    if (p->violation || over_size(p))
        return;
    p->level--;
    if (p->level == 0) {
        if (p->h->stream_end)
            p->h->stream_end(p->ud);
        return;
    }
    if (p->level == 1) {
        struct xml_node *s = p->stanza;
        p->stanza = p->cur = NULL;
        p->mark = XML_GetCurrentByteIndex(p->expat) + XML_GetCurrentByteCount(p->expat);
        if (p->h->stanza)
            p->h->stanza(p->ud, s);
        xml_free(s);
        return;
    }
    if (p->cur)
        p->cur = p->cur->parent;
}

static void XMLCALL on_text(void *ud, const char *s, int len)
{
    struct xml_parser *p = ud;
    struct xml_node *last;

    if (p->violation || over_size(p))
        return;
    if (p->level < 2) {
        /* Whitespace (keepalives) between stanzas: nothing to keep. */
        p->mark = XML_GetCurrentByteIndex(p->expat) + XML_GetCurrentByteCount(p->expat);
        return;
    }
    if (p->cur == NULL)
        return; /* the stanza was cut */
    last = p->cur->last_child;
    if (last && last->type == XML_TEXT) {
        /* expat splits text at buffer and entity boundaries; grow
         * geometrically so long text stays linear. */
        size_t need = last->text_len + (size_t)len + 1;
        if (!charge(p, (size_t)len))
            return;
        if (need > last->text_cap) {
            size_t cap = last->text_cap * 2;
            if (cap < need)
                cap = need;
            last->text = xrealloc(last->text, cap);
            last->text_cap = cap;
        }
        memcpy(last->text + last->text_len, s, (size_t)len);
        last->text_len += (size_t)len;
        last->text[last->text_len] = '\0';
        return;
    }
    if (!charge(p, sizeof(*last) + 2 * XML_BLOCK_COST + (size_t)len + 1))
        return;
    xml_append(p->cur, xml_text_new(s, (size_t)len));
}

static void XMLCALL on_doctype(void *ud, const char *name, const char *sysid, const char *pubid,
                               int has_internal_subset)
{
    violate(ud, XML_VIOLATION_DOCTYPE, "DOCTYPE not allowed (RFC 6120 11.1)");
}

static void XMLCALL on_pi(void *ud, const char *target, const char *data)
{
    violate(ud, XML_VIOLATION_PI, "processing instruction not allowed (RFC 6120 11.1)");
}

static void XMLCALL on_comment(void *ud, const char *data)
{
    violate(ud, XML_VIOLATION_COMMENT, "comment not allowed (RFC 6120 11.1)");
}

static void XMLCALL on_entity_decl(void *ud, const char *name, int is_param, const char *value,
                                   int value_len, const char *base, const char *sysid,
                                   const char *pubid, const char *notation)
{
    violate(ud, XML_VIOLATION_DOCTYPE, "entity declaration not allowed (RFC 6120 11.1)");
}

static void setup_expat(struct xml_parser *p)
{
    p->expat = XML_ParserCreateNS("UTF-8", NS_SEP);
    if (p->expat == NULL)
        abort(); /* out of memory: see the policy in cs_util.h */
    XML_SetUserData(p->expat, p);
    XML_SetReturnNSTriplet(p->expat, XML_TRUE); /* prefixes find their declaration */
    XML_SetNamespaceDeclHandler(p->expat, on_ns_start, on_ns_end);
    XML_SetElementHandler(p->expat, on_start, on_end);
    XML_SetCharacterDataHandler(p->expat, on_text);
    XML_SetStartDoctypeDeclHandler(p->expat, on_doctype);
    XML_SetProcessingInstructionHandler(p->expat, on_pi);
    XML_SetCommentHandler(p->expat, on_comment);
    XML_SetEntityDeclHandler(p->expat, on_entity_decl);
    XML_SetParamEntityParsing(p->expat, XML_PARAM_ENTITY_PARSING_NEVER);
#if HAVE_DECL_XML_SETREPARSEDEFERRALENABLED
    /* Deferral would hold a stanza whose start arrived in an earlier read
     * until the buffer doubles: latency without bound on a quiet link.
     * The quadratic re-scan it prevents is bounded here by max_bytes. */
    XML_SetReparseDeferralEnabled(p->expat, XML_FALSE);
#endif
}

struct xml_parser *xml_parser_new(size_t max_bytes, unsigned max_depth,
                                  const struct xml_parser_handlers *handlers, void *ud)
{
    struct xml_parser *p = xcalloc(1, sizeof(*p));
    p->h = handlers;
    p->ud = ud;
    p->max_bytes = max_bytes;
    p->max_depth = max_depth;
    p->max_attrs = XML_MAX_ATTRS;
    p->max_tree_bytes =
        max_bytes > SIZE_MAX / XML_TREE_FACTOR ? SIZE_MAX : max_bytes * XML_TREE_FACTOR;
    setup_expat(p);
    return p;
}

void xml_parser_reset(struct xml_parser *p)
{
    XML_ParserFree(p->expat);
    xml_free(p->stanza);
    bindings_clear(p);
    p->stanza = p->cur = NULL;
    p->level = 0;
    p->mark = p->fed = 0;
    p->violation = XML_VIOLATION_NONE;
    p->error[0] = '\0';
    p->stopped = false;
    setup_expat(p);
}

void xml_parser_free(struct xml_parser **pp)
{
    struct xml_parser *p = *pp;
    if (p == NULL)
        return;
    XML_ParserFree(p->expat);
    xml_free(p->stanza);
    bindings_clear(p);
    free(p);
    *pp = NULL;
}

void xml_parser_stop(struct xml_parser *p)
{
    p->stopped = true;
    XML_StopParser(p->expat, XML_FALSE);
}

static int violation_code(const struct xml_parser *p)
{
    return p->violation == XML_VIOLATION_SIZE || p->violation == XML_VIOLATION_DEPTH ? CS_ELIMIT
                                                                                     : CS_EPROTO;
}

int xml_parser_feed(struct xml_parser *p, const char *data, size_t len)
{
    if (p->violation)
        return violation_code(p);
    if (p->stopped)
        return CS_ECLOSED;
    while (len > 0) {
        /* XML_Parse takes an int length: feed at most 1 GiB at a time. */
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        enum XML_Status st = XML_Parse(p->expat, data, chunk, XML_FALSE);
        p->fed += chunk;
        data += chunk;
        len -= (size_t)chunk;
        if (p->violation)
            return violation_code(p);
        if (p->stopped)
            return CS_ECLOSED;
        if (st != XML_STATUS_OK) {
            /* After the root has opened, expat sees a DOCTYPE as a mere
             * syntax error; name it for what it is in the logs. */
            /* expat points just past the "<!". */
            long long at = XML_GetCurrentByteIndex(p->expat) - (p->fed - chunk);
            if (at >= 2 && at < chunk && chunk - at >= 7 &&
                (memcmp(data - chunk + at - 2, "<!DOCTYPE", 9) == 0 ||
                 memcmp(data - chunk + at - 2, "<!ENTITY", 8) == 0)) {
                p->violation = XML_VIOLATION_DOCTYPE;
                cs_strlcpy(p->error, "DOCTYPE not allowed (RFC 6120 11.1)", sizeof(p->error));
                return CS_EPROTO;
            }
            p->violation = XML_VIOLATION_SYNTAX;
            snprintf(p->error, sizeof(p->error), "not well-formed: %s",
                     XML_ErrorString(XML_GetErrorCode(p->expat)));
            return CS_EPROTO;
        }
        /* Bytes expat holds for an unfinished element count too. */
        if (p->fed - p->mark > (long long)p->max_bytes) {
            p->violation = XML_VIOLATION_SIZE;
            cs_strlcpy(p->error, "stanza larger than max_stanza_bytes", sizeof(p->error));
            return CS_ELIMIT;
        }
    }
    return 0;
}

enum xml_violation xml_parser_violation(const struct xml_parser *p)
{
    return p->violation;
}

const char *xml_parser_error(const struct xml_parser *p)
{
    return p->error;
}

struct parse_one {
    struct xml_node *elem; /* the first element, owned */
    unsigned count;        /* elements seen */
};

static void keep_first(void *ud, struct xml_node *st)
{
    struct parse_one *one = ud;
    if (one->count++ == 0)
        one->elem = xml_copy(st);
}

struct xml_node *xml_parse_one(const char *text, size_t len)
{
    static const struct xml_parser_handlers h = {NULL, keep_first, NULL};
    static const char open[] = "<s xmlns='" XML_NS_COMPONENT "'>";
    struct parse_one one = {NULL, 0};
    struct xml_parser *p = xml_parser_new(len + sizeof(open), 1000, &h, &one);
    int r;

    /* The text is our own (it passed the stream's cap when it arrived) and
     * building is linear, so no attribute cap: a limit lowered later must
     * not make stored stanzas unreadable. */
    p->max_attrs = UINT_MAX;
    p->max_tree_bytes = SIZE_MAX;
    r = xml_parser_feed(p, open, sizeof(open) - 1);
    if (r == 0)
        r = xml_parser_feed(p, text, len);
    if (r == 0)
        r = xml_parser_feed(p, "</s>", 4);
    xml_parser_free(&p);
    if (r != 0 || one.count != 1) {
        xml_free(one.elem);
        return NULL;
    }
    return one.elem;
}
