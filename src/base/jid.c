/* jid.c - JID parsing, validation and normalisation (RFC 7622), and the
 * XEP-0106 relay addresses. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_jid.h"
#include "cs_text.h"
#include "cs_util.h"

/* RFC 7622 parts are UTF-8 text without control characters (cs_text.h). */
static int check_utf8(const unsigned char *s, size_t len)
{
    return text_ok((const char *)s, len) ? 0 : CS_EINVAL;
}

/* Bytes a part may not hold beyond the text rule: RFC 7622 3.3.1's
 * disallowed characters in a localpart; separators, whitespace and
 * characters a hostname never has in a domain.  NUL in both. */
enum { BAD_IN_LOCAL = 1, BAD_IN_DOMAIN = 2 };
static const unsigned char bad_byte[256] = {
    [0] = BAD_IN_LOCAL | BAD_IN_DOMAIN,
    ['"'] = BAD_IN_LOCAL | BAD_IN_DOMAIN,
    ['&'] = BAD_IN_LOCAL | BAD_IN_DOMAIN,
    ['\''] = BAD_IN_LOCAL | BAD_IN_DOMAIN,
    ['/'] = BAD_IN_LOCAL | BAD_IN_DOMAIN,
    [':'] = BAD_IN_LOCAL | BAD_IN_DOMAIN,
    ['<'] = BAD_IN_LOCAL | BAD_IN_DOMAIN,
    ['>'] = BAD_IN_LOCAL | BAD_IN_DOMAIN,
    ['@'] = BAD_IN_LOCAL | BAD_IN_DOMAIN,
    [' '] = BAD_IN_LOCAL | BAD_IN_DOMAIN,
    ['['] = BAD_IN_DOMAIN,
    [']'] = BAD_IN_DOMAIN,
    ['\\'] = BAD_IN_DOMAIN,
};

int jid_check_local(const char *s, size_t len)
{
    if (len == 0 || len > JID_PART_MAX)
        return CS_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (bad_byte[(unsigned char)s[i]] & BAD_IN_LOCAL)
            return CS_EINVAL;
    }
    return check_utf8((const unsigned char *)s, len);
}

int jid_check_domain(const char *s, size_t len)
{
    if (len == 0 || len > JID_PART_MAX)
        return CS_EINVAL;
    if (s[0] == '[') {
        /* IPv6 literal (RFC 7622 3.2): hex digits, colons, dots. */
        if (len < 3 || s[len - 1] != ']')
            return CS_EINVAL;
        for (size_t i = 1; i < len - 1; i++) {
            if (strchr("0123456789abcdefABCDEF:.", s[i]) == NULL || s[i] == '\0')
                return CS_EINVAL;
        }
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (bad_byte[(unsigned char)s[i]] & BAD_IN_DOMAIN)
            return CS_EINVAL;
        if (s[i] == '.' && (i == 0 || s[i - 1] == '.'))
            return CS_EINVAL; /* empty label */
    }
    /* jid_parse removed the one trailing dot RFC 7622 allows: another
     * ends an empty label ("y.." would print as "y.", which reads back as
     * "y"). */
    if (len > 0 && s[len - 1] == '.')
        return CS_EINVAL;
    return check_utf8((const unsigned char *)s, len);
}

/* The prepared parts of a JID, before they are copied into one buffer. */
struct parts {
    char local[JID_PART_MAX + 1], domain[JID_PART_MAX + 1], resource[JID_PART_MAX + 1];
    size_t llen, dlen, rlen;
};

/* Prepares local (when given: len bytes), the domain and the resource
 * (when given), then checks the prepared parts: the server compares and
 * stamps the prepared form, so that is the one that must be valid. */
static int prep_parts(const char *local, size_t llen, const char *dom, size_t dlen, const char *res,
                      size_t rlen, struct parts *p)
{
    p->llen = p->rlen = 0;
    if (local && (jidprep(JIDPREP_NODE, local, llen, p->local, &p->llen) != 0 ||
                  jid_check_local(p->local, p->llen) != 0))
        return CS_EINVAL;
    if (jidprep(JIDPREP_NAME, dom, dlen, p->domain, &p->dlen) != 0 ||
        jid_check_domain(p->domain, p->dlen) != 0)
        return CS_EINVAL;
    if (res && (jidprep(JIDPREP_RESOURCE, res, rlen, p->resource, &p->rlen) != 0 || p->rlen == 0 ||
                check_utf8((const unsigned char *)p->resource, p->rlen) != 0))
        return CS_EINVAL;
    return 0;
}

int jid_parse(const char *s, struct jid *jid_r)
{
    const char *slash, *at, *dom;
    size_t dlen;
    struct parts parts;
    char *p;

    memset(jid_r, 0, sizeof(*jid_r));
    if (s == NULL || strlen(s) > 3 * JID_PART_MAX + 2)
        return CS_EINVAL;
    /* RFC 7622 3.1: the first '/' starts the resource; the '@' before it
     * ends the localpart. */
    slash = strchr(s, '/');
    at = memchr(s, '@', slash ? (size_t)(slash - s) : strlen(s));
    dom = at ? at + 1 : s;
    dlen = slash ? (size_t)(slash - dom) : strlen(dom);
    if (dlen > 1 && dom[dlen - 1] == '.' && dom[0] != '[')
        dlen--; /* a trailing dot is removed (RFC 7622 3.2) */
    if (prep_parts(at ? s : NULL, at ? (size_t)(at - s) : 0, dom, dlen, slash ? slash + 1 : NULL,
                   slash ? strlen(slash + 1) : 0, &parts) != 0)
        return CS_EINVAL;

    p = jid_r->buf = xmalloc(parts.llen + parts.dlen + parts.rlen + 3);
    if (at) {
        jid_r->local = memcpy(p, parts.local, parts.llen + 1);
        p += parts.llen + 1;
    }
    jid_r->domain = memcpy(p, parts.domain, parts.dlen + 1);
    p += parts.dlen + 1;
    if (slash)
        jid_r->resource = memcpy(p, parts.resource, parts.rlen + 1);
    return 0;
}

char *jid_prep_local(const char *s)
{
    char out[JID_PART_MAX + 1];
    size_t len;
    if (s == NULL || jidprep(JIDPREP_NODE, s, strlen(s), out, &len) != 0 ||
        jid_check_local(out, len) != 0)
        return NULL;
    return xstrdup(out);
}

char *jid_prep_bare(const char *s)
{
    struct jid j;
    char *bare;
    if (jid_parse(s, &j) != 0)
        return NULL;
    bare = j.resource ? NULL : jid_bare(&j);
    jid_deinit(&j);
    return bare;
}

void jid_deinit(struct jid *jid)
{
    free(jid->buf);
    memset(jid, 0, sizeof(*jid));
}

void jid_copy(const struct jid *src, struct jid *dst)
{
    size_t ll = src->local ? strlen(src->local) + 1 : 0, dl = strlen(src->domain) + 1;
    size_t rl = src->resource ? strlen(src->resource) + 1 : 0;
    char *p = xmalloc(ll + dl + rl);
    memset(dst, 0, sizeof(*dst));
    dst->buf = p;
    if (src->local) {
        dst->local = memcpy(p, src->local, ll);
        p += ll;
    }
    dst->domain = memcpy(p, src->domain, dl);
    p += dl;
    if (src->resource)
        dst->resource = memcpy(p, src->resource, rl);
}

char *jid_bare(const struct jid *jid)
{
    struct strbuf sb = {0};
    if (jid->local)
        strbuf_printf(&sb, "%s@", jid->local);
    strbuf_append_str(&sb, jid->domain);
    return sb.data;
}

char *jid_full(const struct jid *jid)
{
    struct strbuf sb = {0};
    if (jid->local)
        strbuf_printf(&sb, "%s@", jid->local);
    strbuf_append_str(&sb, jid->domain);
    if (jid->resource)
        strbuf_printf(&sb, "/%s", jid->resource);
    return sb.data;
}

bool jid_bare_eq(const struct jid *a, const struct jid *b)
{
    if ((a->local == NULL) != (b->local == NULL))
        return false;
    if (a->local && strcmp(a->local, b->local) != 0)
        return false;
    return strcmp(a->domain, b->domain) == 0;
}

/* XEP-0106 section 3.2: the characters and their escape sequences. */
static const struct {
    char c;
    const char *seq;
} escapes[] = {
    {' ', "20"}, {'"', "22"}, {'&', "26"}, {'\'', "27"}, {'/', "2f"},
    {':', "3a"}, {'<', "3c"}, {'>', "3e"}, {'@', "40"},  {'\\', "5c"},
};

/* The character an escape sequence at s ("\XX") stands for, or 0. */
static char escaped_char(const char *s)
{
    if (s[0] != '\\' || s[1] == '\0' || s[2] == '\0')
        return 0;
    for (size_t i = 0; i < CS_ARRAY_SIZE(escapes); i++) {
        if (s[1] == escapes[i].seq[0] && s[2] == escapes[i].seq[1])
            return escapes[i].c;
    }
    return 0;
}

char *jid_escape_local(const char *s)
{
    struct strbuf sb = {0};
    strbuf_reserve(&sb, strlen(s));
    for (const char *p = s; *p; p++) {
        const char *seq = NULL;
        for (size_t i = 0; i < CS_ARRAY_SIZE(escapes); i++) {
            if (*p == escapes[i].c)
                seq = escapes[i].seq;
        }
        /* A backslash is escaped only where it would otherwise be read
         * as the start of an escape sequence (XEP-0106 3.3). */
        if (seq && *p == '\\' && escaped_char(p) == 0)
            seq = NULL;
        if (seq)
            strbuf_printf(&sb, "\\%s", seq);
        else
            strbuf_append(&sb, p, 1);
    }
    sb.data[sb.len] = '\0';
    return sb.data;
}

char *jid_unescape_local(const char *s)
{
    struct strbuf sb = {0};
    strbuf_reserve(&sb, strlen(s));
    for (const char *p = s; *p; p++) {
        char c = escaped_char(p);
        if (c) {
            strbuf_append(&sb, &c, 1);
            p += 2;
        } else {
            strbuf_append(&sb, p, 1);
        }
    }
    sb.data[sb.len] = '\0';
    return sb.data;
}

/* The localpart of contact's relay address: escape(contact), or, for a
 * contact without a localpart, escape("@" + contact) so that it still holds
 * an escaped '@' and can never be taken for a channel name.  contact is a
 * normalised bare JID.  Caller frees. */
static char *relay_local(const char *contact)
{
    char *esc = jid_escape_local(contact);
    struct strbuf sb = {0};
    if (strchr(contact, '@') != NULL)
        return esc;
    strbuf_printf(&sb, "\\40%s", esc);
    free(esc);
    return sb.data;
}

char *jid_relay_address(const char *contact, const char *domain)
{
    char *local = relay_local(contact);
    struct strbuf sb = {0};
    strbuf_printf(&sb, "%s@%s", local, domain);
    free(local);
    return sb.data;
}

int jid_relay_parse(const char *local, struct jid *contact_r)
{
    char *folded, *plain, *canon, *bare;
    const char *at;
    int r;

    memset(contact_r, 0, sizeof(*contact_r));
    /* Localparts compare prepared (jid_parse() prepares them), so prepare
     * before unescaping: "A\2F" must mean what "a\2f" means. */
    folded = local ? jid_prep_local(local) : NULL;
    if (folded == NULL)
        return CS_EINVAL;
    plain = jid_unescape_local(folded);
    at = strchr(plain, '@');
    if (at == NULL) {
        r = CS_ENOTFOUND; /* no escaped '@': a channel name */
        goto out;
    }
    /* "@domain" is the relay address of a contact without a localpart. */
    r = jid_parse(at == plain ? plain + 1 : plain, contact_r);
    if (r != 0)
        goto out;
    if (contact_r->resource != NULL || (at == plain) != (contact_r->local == NULL)) {
        r = CS_EINVAL;
        goto out;
    }
    /* Only the form jid_relay_address() writes is accepted, so that each
     * contact has exactly one relay address: no "\5c" where a plain
     * backslash would do, no trailing dot on the domain. */
    bare = jid_bare(contact_r);
    canon = relay_local(bare);
    if (strcmp(canon, folded) != 0)
        r = CS_EINVAL;
    free(canon);
    free(bare);
out:
    if (r != 0)
        jid_deinit(contact_r);
    if (r != 0 && r != CS_ENOTFOUND)
        r = CS_EINVAL;
    free(plain);
    free(folded);
    return r;
}
