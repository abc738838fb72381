/* xmlparse.c - the bounded expat stream parser.
 *
 * It enforces RFC 6120 section 11.1 (restricted XML) and the resource
 * limits (bytes per top-level element, nesting depth, attributes per
 * element, what one stanza's tree may cost) so that a peer can never make
 * us allocate or work without bound; building a parsed element is linear
 * in its size.  See cs_xml.h. */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "cs_error.h"
#include "cs_hash.h"
#include "xml_priv.h"

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
    long long begun;         /* byte offset where the current stanza began */
    long long fed;           /* bytes fed since reset */
    struct hash bindings;    /* prefix -> struct binding, innermost first */

    enum xml_violation violation;
    char error[160];
    bool stopped;
    /* The end of the last feed that may begin a default declaration of
     * the XML namespace (see undeclare_xml_ns), held for the next. */
    char held[64];
    size_t nheld;
    unsigned char lex; /* enum lex, at the first byte held */
};

/* A server that re-serialises <xml:foo/> from a user may write
 * <foo xmlns='http://www.w3.org/XML/1998/namespace'/> (Prosody 0.12
 * does).  expat refuses that as not well-formed (the XML namespace may
 * not be declared), which would restart the stream: any user could cut
 * the component off.  Such a declaration is rewritten, byte for byte in
 * place, to a stand-in URI of the same length before expat sees it, and
 * the stand-in is read back as the XML namespace (on_ns_start): the tree
 * is what the user sent, and the serialiser writes it as <xml:foo/>. */
#define XML_NS_STAND_IN "urn:chanstat:xml-namespace-undeclare"
static const char *const xml_ns_decls[] = {
    "xmlns='" XML_NS_XML "'",
    "xmlns=\"" XML_NS_XML "\"",
};
#define XML_NS_DECL_LEN (sizeof("xmlns='" XML_NS_XML "'") - 1)

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

/* Cuts the stanza being built: what was built below it is freed, the
 * rest of its content is read and dropped, and the handler gets the
 * stanza's own element marked truncated. */
static void cut(struct xml_parser *p)
{
    if (p->stanza == NULL || p->stanza->truncated)
        return;
    p->stanza->truncated = true;
    xml_free(p->stanza->first_child);
    p->stanza->first_child = p->stanza->last_child = NULL;
    p->cur = NULL;
}

/* Counts bytes of tree for the stanza being built; over the budget the
 * stanza is cut.  Returns false once the stanza is cut. */
static bool charge(struct xml_parser *p, size_t bytes)
{
    if (p->level < 2)
        return true; /* the stream root is no stanza */
    if (p->stanza && p->stanza->truncated)
        return false;
    p->tree_bytes += bytes;
    if (p->tree_bytes <= p->max_tree_bytes || p->stanza == NULL)
        return true; /* the stanza's own element is always kept */
    cut(p);
    return false;
}

static void XMLCALL on_ns_start(void *ud, const char *prefix, const char *uri)
{
    struct xml_parser *p = ud;
    size_t plen = prefix ? strlen(prefix) : 0;
    struct binding *b = xmalloc(sizeof(*b) + plen + 1);

    memcpy(b->prefix, prefix ? prefix : "", plen + 1);
    b->ns_len = uri ? strlen(uri) : 0;
    if (uri && strcmp(uri, XML_NS_STAND_IN) == 0)
        b->ns = xml_ns_new(XML_NS_XML, b->ns_len); /* see undeclare_xml_ns */
    else
        b->ns = uri ? xml_ns_new(uri, b->ns_len) : NULL;
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
    xml_ns_unref(b->ns);
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
            xml_ns_unref(b->ns);
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
        *ns_r = xml_ns_ref(b->ns);
    else /* xml:*, whose prefix is never declared */
        *ns_r = xml_ns_new(qname, (size_t)(sep - qname));
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
    n->ns = ns ? ns : xml_ns_none;
    xml_attrs_reserve(n, nattrs);
    for (unsigned i = 0; i < nattrs; i++) {
        const char *ans;
        const char *alocal = split_name(p, attrs[2 * i], &ans, &len);
        xml_attr_push(n, ans, alocal, len, attrs[2 * i + 1]);
    }
    if (!charge(p, elem_cost(n))) {
        xml_free(n);
        return NULL;
    }
    return n;
}

/* A stanza over the byte limit whose own element was read is cut, not
 * the stream: a server may pass on more than it accepted (Prosody 0.12
 * writes each ' of a user's text as &apos;, six bytes), and any user
 * could otherwise cut the component off.  Its content is read and
 * dropped: what expat holds stays bounded (the mark moves on), and so
 * does the stanza, at XML_TREE_FACTOR times the limit in all. */
static bool over_size(struct xml_parser *p)
{
    /* The end of the current event: one character-data event can carry a
     * whole oversized text in one go. */
    long long at = XML_GetCurrentByteIndex(p->expat) + XML_GetCurrentByteCount(p->expat);
    if (at >= 0 && at - p->mark > (long long)p->max_bytes) {
        if (p->stanza && at - p->begun <= (long long)p->max_tree_bytes) {
            cut(p);
            p->mark = at;
            return false;
        }
        violate(p, XML_VIOLATION_SIZE, "stanza larger than max_stanza_bytes");
        return true;
    }
    return false;
}

/* The element the stanza itself opens with, when it has too many
 * attributes: only those needed to answer it are kept, and it is cut. */
static struct xml_node *build_stanza_cut(struct xml_parser *p, const char *qname,
                                         const char **attrs)
{
    static const char *const keep[] = {"from", "to", "id", "type", XML_NS_XML "\x1flang\x1fxml"};
    const char *kept[2 * CS_ARRAY_SIZE(keep) + 1];
    unsigned n = 0;
    struct xml_node *s;
    for (size_t i = 0; attrs[i] != NULL && n < CS_ARRAY_SIZE(keep); i += 2) {
        for (size_t k = 0; k < CS_ARRAY_SIZE(keep); k++) {
            if (strcmp(attrs[i], keep[k]) == 0) {
                kept[2 * n] = attrs[i];
                kept[2 * n + 1] = attrs[i + 1];
                n++;
                break;
            }
        }
    }
    kept[2 * n] = NULL;
    s = build_elem(p, qname, kept, n);
    s->truncated = true;
    return s;
}

static void XMLCALL on_start(void *ud, const char *name, const char **attrs)
{
    struct xml_parser *p = ud;
    struct xml_node *n;
    unsigned nattrs = 0;

    if (p->violation || over_size(p))
        return;
    if (p->level > p->max_depth) {
        /* Inside a stanza: the stanza is cut, the stream goes on.  What
         * expat keeps per open element (about 130 bytes) is bounded by
         * max_bytes levels. */
        if (p->stanza && p->level < p->max_bytes) {
            cut(p);
            p->level++;
            return;
        }
        violate(p, XML_VIOLATION_DEPTH, "element depth exceeds max_depth");
        return;
    }
    while (attrs[2 * nattrs] != NULL && nattrs <= p->max_attrs)
        nattrs++;
    if (nattrs > p->max_attrs) {
        char msg[80];
        if (p->level == 1) {
            /* The stanza's own element: answered as too large. */
            p->level++;
            p->tree_bytes = 0;
            p->begun = p->mark;
            p->stanza = build_stanza_cut(p, name, attrs);
            p->cur = NULL;
            return;
        }
        if (p->stanza) {
            cut(p);
            p->level++;
            return;
        }
        snprintf(msg, sizeof(msg), "element has more than %u attributes", p->max_attrs);
        violate(p, XML_VIOLATION_SIZE, msg);
        return;
    }
    p->level++;
    if (p->level > 2 && p->cur == NULL)
        return; /* the stanza was cut: its content is dropped */
    if (p->level == 2) {
        p->tree_bytes = 0;
        p->begun = p->mark;
    }
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
    p->mark = p->fed = p->begun = 0;
    p->nheld = 0;
    p->lex = 0;
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

static int feed_expat(struct xml_parser *p, const char *data, size_t len)
{
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

/* Where the bytes seen so far leave the stream, for undeclare_xml_ns:
 * in text, in a tag, or in a quoted attribute value.  '<' never stands
 * raw in text or a value, so a tag starts at every '<' outside quotes
 * (a CDATA section fools it, at worst rewriting that text). */
enum lex { LEX_TEXT, LEX_TAG, LEX_SQUOTE, LEX_DQUOTE };

static enum lex lex_step(enum lex l, char c)
{
    switch (l) {
    case LEX_TEXT: return c == '<' ? LEX_TAG : LEX_TEXT;
    case LEX_TAG:
        return c == '>' ? LEX_TEXT : c == '\'' ? LEX_SQUOTE : c == '"' ? LEX_DQUOTE : LEX_TAG;
    case LEX_SQUOTE: return c == '\'' ? LEX_TAG : LEX_SQUOTE;
    case LEX_DQUOTE: return c == '"' ? LEX_TAG : LEX_DQUOTE;
    }
    return l;
}

/* Finds each default declaration of the XML namespace that stands in a
 * tag of buf[0, len), from lexer state p->lex, and rewrites it in place
 * (see XML_NS_STAND_IN) when write; *found says whether there was one.
 * Returns how many bytes at the end may begin one and must wait for
 * more; p->lex is left at the start of those. */
static size_t undeclare_xml_ns(struct xml_parser *p, char *buf, size_t len, bool write, bool *found)
{
    enum lex l = p->lex;
    *found = false;
    for (size_t i = 0; i < len; i++) {
        /* Text and quoted values hold no declaration: skip to their end
         * (a stanza of text, as in a flood, costs a memchr). */
        if (l != LEX_TAG) {
            const char *end = memchr(buf + i,
                                     l == LEX_TEXT     ? '<'
                                     : l == LEX_SQUOTE ? '\''
                                                       : '"',
                                     len - i);
            if (end == NULL)
                break;
            i = (size_t)(end - buf);
        } else if (buf[i] == 'x') {
            size_t left = len - i, n = left < XML_NS_DECL_LEN ? left : XML_NS_DECL_LEN;
            for (size_t k = 0; k < CS_ARRAY_SIZE(xml_ns_decls); k++) {
                if (memcmp(buf + i, xml_ns_decls[k], n) != 0)
                    continue;
                if (n < XML_NS_DECL_LEN) {
                    p->lex = l;
                    return left; /* the rest may begin one */
                }
                *found = true;
                if (write)
                    memcpy(buf + i + 7, XML_NS_STAND_IN, sizeof(XML_NS_STAND_IN) - 1);
            }
        }
        l = lex_step(l, buf[i]);
    }
    p->lex = l;
    return 0;
}

int xml_parser_feed(struct xml_parser *p, const char *data, size_t len)
{
    unsigned char lex = p->lex;
    char *buf;
    size_t total, hold;
    bool found;
    int r;
    if (p->violation)
        return violation_code(p);
    if (p->stopped)
        return CS_ECLOSED;
    /* The common case, read only: nothing held, nothing to rewrite or
     * hold; expat reads the caller's bytes. */
    if (p->nheld == 0 && undeclare_xml_ns(p, (char *)(uintptr_t)data, len, false, &found) == 0 &&
        !found)
        return feed_expat(p, data, len);
    p->lex = lex;
    total = p->nheld + len;
    buf = xmalloc(total ? total : 1);
    memcpy(buf, p->held, p->nheld);
    memcpy(buf + p->nheld, data, len);
    hold = undeclare_xml_ns(p, buf, total, true, &found);
    memcpy(p->held, buf + total - hold, hold);
    p->nheld = hold;
    r = feed_expat(p, buf, total - hold);
    free(buf);
    return r;
}

enum xml_violation xml_parser_violation(const struct xml_parser *p)
{
    return p->violation;
}

const char *xml_parser_error(const struct xml_parser *p)
{
    return p->error;
}

/* Stored stanzas were within the stream's depth limit when they came;
 * this only guards the recursion of a hand-edited row. */
#define PARSE_ONE_MAX_DEPTH 1000

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
    struct xml_parser *p = xml_parser_new(len + sizeof(open), PARSE_ONE_MAX_DEPTH, &h, &one);
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
