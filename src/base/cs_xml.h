/* cs_xml.h - stanza trees, a serializer, and a bounded streaming parser.
 *
 * The parser sits on expat with namespace processing, so every parsed
 * element carries its resolved namespace URI ("" for none) and prefixes
 * are not kept.  It enforces the restricted XML of RFC 6120 section 11.1
 * (no DOCTYPE or entity declarations, no processing instructions, no
 * comments) and three limits so that a peer can never make it allocate or
 * work without bound: the bytes one top-level element may span, the
 * element nesting depth, and XML_MAX_ATTRS attributes per element.
 * Parsing and copying are linear in the size of the tree (setting one
 * attribute in code is linear in the element's attributes), and what a
 * parsed tree costs in memory is bounded by a multiple of the byte limit:
 * namespace URIs are stored once per declaration and shared by reference
 * (also by xml_copy), and a stanza whose tree would cost more than
 * XML_TREE_FACTOR times the byte limit is handed over cut (see
 * xml_node.truncated) without failing the stream.  So is a stanza over
 * the byte limit (up to XML_TREE_FACTOR times it), deeper than the depth
 * limit (up to as many levels as the byte limit) or with more than
 * XML_MAX_ATTRS attributes on an element: a server passes on what any
 * user sends.  A violation
 * stops the parser until xml_parser_reset(); the caller restarts the
 * stream.
 *
 * The serializer writes a default namespace declaration (xmlns='...')
 * where an element's namespace differs from the one in effect, including
 * xmlns='' for an element in no namespace, and for namespaced attributes
 * other than xml:* one generated prefix per namespace, declared once on
 * the element serialised, so output stays proportional to the tree.  Attribute values and text are
 * always escaped (xml_escape()).
 *
 * Trees: every node is owned by its parent; a detached root is owned by
 * whoever created it and released with xml_free(). */
#ifndef CS_XML_H
#define CS_XML_H

#include <stdbool.h>
#include <stddef.h>

#include "cs_util.h"

#define XML_NS_XML "http://www.w3.org/XML/1998/namespace"
#define XML_NS_STREAM "http://etherx.jabber.org/streams"
#define XML_NS_COMPONENT "jabber:component:accept"
#define XML_NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define XML_NS_STREAMS "urn:ietf:params:xml:ns:xmpp-streams"

/* The most attributes one element may carry on the stream (namespace
 * declarations are not attributes and do not count).  Stanzas carry a
 * handful; more is a violation of kind XML_VIOLATION_SIZE. */
#define XML_MAX_ATTRS 64

/* What the tree of one parsed stanza may cost in memory (nodes, strings,
 * the allocator's per-block overhead), as a multiple of the stanza byte
 * limit.  The densest stanzas an XMPP server sends (a roster of short
 * items) cost about 8 times their bytes; an element per 4 bytes of input
 * costs about 36.  Over it the stanza is cut, not the stream. */
#define XML_TREE_FACTOR 16

enum xml_node_type { XML_ELEMENT, XML_TEXT };

struct xml_attr {
    const char *ns; /* NULL for an unqualified attribute, XML_NS_XML for xml:lang;
                     * shared (see xml_elem_new), never to be freed or written */
    char *name;     /* local name */
    char *value;
};

struct xml_node {
    enum xml_node_type type;
    /* A stanza whose content the parser dropped: building it would have
     * cost more than XML_TREE_FACTOR times the stanza byte limit, or it
     * broke the byte, depth or attribute limit.  Only the element itself
     * and its attributes are kept (with too many attributes: from, to,
     * id, type and xml:lang); it is to be answered (or dropped) as too
     * large, never acted on. */
    bool truncated;
    char *name;     /* element: local name */
    const char *ns; /* element: namespace URI; "" = no namespace (xmlns='');
                     * NULL = inherit the parent's (trees built in code).
                     * Shared by every element and copy that uses the same
                     * declaration: never to be freed or written. */
    char *text;     /* text node: content (NUL-terminated, may hold no NUL) */
    size_t text_len;
    size_t text_cap; /* text node: allocated size of text */
    struct xml_attr *attrs;
    unsigned nattrs, attrs_cap;
    struct xml_node *parent, *first_child, *last_child, *next;
};

/* Constructors; the result is owned by the caller (xml_free) until appended.
 * ns: a namespace URI, "" for no namespace, or NULL to inherit. */
struct xml_node *xml_elem_new(const char *name, const char *ns);
struct xml_node *xml_text_new(const char *text, size_t len);
/* Appends child (which must be detached) to parent; parent takes ownership.
 * Returns child for chaining. */
struct xml_node *xml_append(struct xml_node *parent, struct xml_node *child);
/* Convenience: new element appended to parent; owned by parent. */
struct xml_node *xml_add_child(struct xml_node *parent, const char *name, const char *ns);
/* Convenience: text appended to parent. */
void xml_add_text(struct xml_node *parent, const char *text);
void xml_free(struct xml_node *node);
/* Deep copy of node (detached; caller frees). */
struct xml_node *xml_copy(const struct xml_node *node);

/* Attributes.  Names "xml:lang" etc. are mapped onto XML_NS_XML. */
void xml_set_attr(struct xml_node *node, const char *name, const char *value);
void xml_set_attr_ns(struct xml_node *node, const char *ns, const char *name, const char *value);
/* NULL when absent.  Borrowed from node. */
const char *xml_attr(const struct xml_node *node, const char *name);
const char *xml_attr_ns(const struct xml_node *node, const char *ns, const char *name);
void xml_remove_attr(struct xml_node *node, const char *name);

/* Effective namespace of an element (its own, else the nearest ancestor's):
 * "" when it is in no namespace, NULL when neither it nor any ancestor
 * has one set.  Borrowed from the tree. */
const char *xml_ns(const struct xml_node *node);
/* Sets node's own namespace (NULL: none of its own, it takes its
 * parent's when serialised), releasing the one it had. */
void xml_set_ns(struct xml_node *node, const char *ns);
/* First child element with this name (NULL = any) and namespace (NULL = any). */
struct xml_node *xml_child(const struct xml_node *node, const char *name, const char *ns);
/* Element iteration: first child element / next sibling element, or NULL. */
struct xml_node *xml_first_elem(const struct xml_node *node);
struct xml_node *xml_next_elem(const struct xml_node *node);
unsigned xml_count_elems(const struct xml_node *node);
/* Concatenated text of the direct text children; caller frees. */
char *xml_text_dup(const struct xml_node *node);

/* Serializes node onto sb.  default_ns is the namespace already in effect
 * where the node goes (XML_NS_COMPONENT for stanzas on the component
 * stream; NULL for none); xmlns is written only where an element's
 * namespace differs from the one in effect, as xmlns='' for an element in
 * no namespace.  Every attribute value is escaped. */
void xml_serialize(const struct xml_node *node, const char *default_ns, struct strbuf *sb);
/* Escapes text for element content (attr=false: & < > and CR) or for an
 * attribute value quoted with ' or " (attr=true: also ' " and the
 * whitespace a parser would normalise). */
void xml_escape(struct strbuf *sb, const char *s, size_t len, bool attr);

/* Parses one element from text (e.g. a stanza kept in the database) in
 * the component namespace.  Caller frees; NULL when text is not
 * well-formed or holds no element or more than one (character data around
 * the element is ignored).  Unlike the stream, no attribute cap applies:
 * the text is our own and was capped when it arrived. */
struct xml_node *xml_parse_one(const char *text, size_t len);

/* ---- Streaming parser ---- */

enum xml_violation {
    XML_VIOLATION_NONE = 0,
    XML_VIOLATION_SYNTAX,  /* not well-formed (expat error) */
    XML_VIOLATION_DOCTYPE, /* DOCTYPE declaration */
    XML_VIOLATION_PI,      /* processing instruction */
    XML_VIOLATION_COMMENT, /* comment */
    XML_VIOLATION_SIZE,    /* stanza larger than the byte limit, or an
                            * element with more than XML_MAX_ATTRS
                            * attributes */
    XML_VIOLATION_DEPTH,   /* nesting deeper than the depth limit */
};

struct xml_parser_handlers {
    /* The stream root opened.  root has the root's name, ns and attributes
     * but no children; borrowed for the duration of the call. */
    void (*stream_start)(void *ud, const struct xml_node *root);
    /* One complete top-level element (a stanza, stream:error, handshake...).
     * Borrowed: the parser frees it after the call returns. */
    void (*stanza)(void *ud, struct xml_node *stanza);
    /* The peer closed the stream root. */
    void (*stream_end)(void *ud);
};

struct xml_parser;

/* max_bytes: the most bytes one top-level element may span (also bounds
 * whatever expat buffers between elements); max_depth: the deepest element
 * nesting, the stream root being level 0 and stanzas level 1.
 * Caller frees with xml_parser_free(). */
struct xml_parser *xml_parser_new(size_t max_bytes, unsigned max_depth,
                                  const struct xml_parser_handlers *handlers, void *ud);
/* Feeds bytes.  Returns 0, or CS_EPROTO (restricted XML or syntax) or
 * CS_ELIMIT (size, depth or attributes) once a violation happened; from
 * then on every call fails until xml_parser_reset().  Handlers may call
 * xml_parser_stop() to make this return CS_ECLOSED without consuming the
 * rest. */
int xml_parser_feed(struct xml_parser *p, const char *data, size_t len);
void xml_parser_stop(struct xml_parser *p);
/* What went wrong, for logs: violation kind and a static-or-owned text
 * valid until the next reset. */
enum xml_violation xml_parser_violation(const struct xml_parser *p);
const char *xml_parser_error(const struct xml_parser *p);
/* Starts a new document (a new stream). */
void xml_parser_reset(struct xml_parser *p);
void xml_parser_free(struct xml_parser **p);

#endif
