/* capsver.c - the XEP-0115 verification string (see cs_capsver.h). */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cs_capsver.h"
#include "cs_error.h"
#include "cs_stanza.h"
#include "cs_util.h"

#define NS_DATA "jabber:x:data"

struct ident {
    const char *f[4]; /* category, type, xml:lang, name ("" when absent) */
};

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static int cmp_ident(const void *a, const void *b)
{
    const struct ident *x = a, *y = b;
    for (int i = 0; i < 4; i++) {
        int c = strcmp(x->f[i], y->f[i]);
        if (c)
            return c;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* qsort, which must not be given a NULL array even to sort nothing. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

/* A growing array of pointers. */
struct vec {
    void **v;
    size_t n, cap;
};

static void vec_push(struct vec *a, void *p)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 8;
        a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
    }
    a->v[a->n++] = p;
}

/* Sorts strings; false when two are equal. */
static bool sort_unique(char **s, size_t n)
{
    sort(s, n, sizeof(*s), cmp_str);
    for (size_t i = 1; i < n; i++)
        if (strcmp(s[i - 1], s[i]) == 0)
            return false;
    return true;
}

static void append_lt(struct strbuf *sb, const char *s)
{
    strbuf_append_str(sb, s);
    strbuf_append(sb, "<", 1);
}

/* One extended form: its FORM_TYPE and the rest of its fields, in the
 * order of section 5.1 step 3. */
struct form {
    char *type; /* owned */
    struct strbuf rest;
};

static int cmp_form(const void *a, const void *b)
{
    const struct form *x = *(struct form *const *)a, *y = *(struct form *const *)b;
    return strcmp(x->type, y->type);
}

struct field {
    const char *var;
    struct vec values; /* char * owned */
};

static int cmp_field(const void *a, const void *b)
{
    const struct field *x = *(struct field *const *)a, *y = *(struct field *const *)b;
    return strcmp(x->var, y->var);
}

static void free_fields(struct vec *fields)
{
    for (size_t i = 0; i < fields->n; i++) {
        struct field *f = fields->v[i];
        for (size_t j = 0; j < f->values.n; j++)
            free(f->values.v[j]);
        free(f->values.v);
        free(f);
    }
    free(fields->v);
}

/* The form x as a struct form; NULL when it has no FORM_TYPE (ignored,
 * section 5.4 step 3.6 applies only to forms that have one); *bad set
 * when its FORM_TYPE is not hidden or has not exactly one value. */
static struct form *read_form(const struct xml_node *x, bool *bad)
{
    struct vec fields = {0};
    struct form *form = NULL;
    char *type = NULL;

    for (const struct xml_node *f = xml_first_elem(x); f; f = xml_next_elem(f)) {
        const char *var = xml_attr(f, "var");
        if (strcmp(f->name, "field") != 0 || var == NULL)
            continue;
        if (strcmp(var, "FORM_TYPE") == 0) {
            const struct xml_node *v = xml_child(f, "value", NULL);
            const char *ftype = xml_attr(f, "type");
            if (type || v == NULL || xml_count_elems(f) != 1 ||
                (ftype && strcmp(ftype, "hidden") != 0)) {
                *bad = true;
                break;
            }
            type = xml_text_dup(v);
            continue;
        }
        struct field *fl = xcalloc(1, sizeof(*fl));
        fl->var = var;
        for (const struct xml_node *v = xml_first_elem(f); v; v = xml_next_elem(v))
            if (strcmp(v->name, "value") == 0)
                vec_push(&fl->values, xml_text_dup(v));
        vec_push(&fields, fl);
    }
    if (type && !*bad) {
        form = xcalloc(1, sizeof(*form));
        form->type = type;
        type = NULL;
        sort(fields.v, fields.n, sizeof(*fields.v), cmp_field);
        for (size_t i = 0; i < fields.n; i++) {
            struct field *fl = fields.v[i];
            append_lt(&form->rest, fl->var);
            sort(fl->values.v, fl->values.n, sizeof(*fl->values.v), cmp_str);
            for (size_t j = 0; j < fl->values.n; j++)
                append_lt(&form->rest, fl->values.v[j]);
        }
    }
    free(type);
    free_fields(&fields);
    return form;
}

int capsver_sha1(const struct xml_node *query, char out[CAPSVER_LEN])
{
    struct vec ids = {0}, feats = {0}, forms = {0};
    struct strbuf s = {0};
    bool bad = false;
    int rc = CS_EINVAL;

    for (const struct xml_node *e = xml_first_elem(query); e && !bad; e = xml_next_elem(e)) {
        const char *ns = xml_ns(e);
        if (strcmp(e->name, "identity") == 0 && ns && strcmp(ns, NS_DISCO_INFO) == 0) {
            struct ident *id = xmalloc(sizeof(*id));
            id->f[0] = or_empty(xml_attr(e, "category"));
            id->f[1] = or_empty(xml_attr(e, "type"));
            id->f[2] = or_empty(xml_attr_ns(e, XML_NS_XML, "lang"));
            id->f[3] = or_empty(xml_attr(e, "name"));
            vec_push(&ids, id);
        } else if (strcmp(e->name, "feature") == 0 && ns && strcmp(ns, NS_DISCO_INFO) == 0) {
            const char *var = xml_attr(e, "var");
            if (var)
                vec_push(&feats, (void *)var);
        } else if (strcmp(e->name, "x") == 0 && ns && strcmp(ns, NS_DATA) == 0) {
            const char *type = xml_attr(e, "type");
            struct form *f = type && strcmp(type, "result") == 0 ? read_form(e, &bad) : NULL;
            if (f)
                vec_push(&forms, f);
        }
    }
    if (bad)
        goto out;
    /* Identities: sorted by category, type, xml:lang and name; two equal
     * ones make the answer ill-formed. */
    {
        struct ident *arr = xmalloc((ids.n ? ids.n : 1) * sizeof(*arr));
        for (size_t i = 0; i < ids.n; i++)
            arr[i] = *(struct ident *)ids.v[i];
        sort(arr, ids.n, sizeof(*arr), cmp_ident);
        for (size_t i = 0; i < ids.n && !bad; i++) {
            if (i > 0 && cmp_ident(&arr[i - 1], &arr[i]) == 0)
                bad = true;
            for (int k = 0; k < 4; k++) {
                strbuf_append_str(&s, arr[i].f[k]);
                strbuf_append(&s, k < 3 ? "/" : "<", 1);
            }
        }
        free(arr);
    }
    if (bad || !sort_unique((char **)feats.v, feats.n))
        goto out;
    for (size_t i = 0; i < feats.n; i++)
        append_lt(&s, feats.v[i]);
    sort(forms.v, forms.n, sizeof(*forms.v), cmp_form);
    for (size_t i = 0; i < forms.n; i++) {
        struct form *f = forms.v[i];
        if (i > 0 && cmp_form(&forms.v[i - 1], &forms.v[i]) == 0)
            goto out;
        append_lt(&s, f->type);
        strbuf_append(&s, f->rest.data ? f->rest.data : "", f->rest.len);
    }
    {
        unsigned char md[20];
        char *b64;
        cs_sha1(s.data ? s.data : "", s.len, md);
        b64 = cs_base64(md, sizeof(md));
        cs_strlcpy(out, b64, CAPSVER_LEN);
        free(b64);
    }
    rc = 0;
out:
    for (size_t i = 0; i < ids.n; i++)
        free(ids.v[i]);
    free(ids.v);
    free(feats.v);
    for (size_t i = 0; i < forms.n; i++) {
        struct form *f = forms.v[i];
        free(f->type);
        strbuf_free(&f->rest);
        free(f);
    }
    free(forms.v);
    strbuf_free(&s);
    return rc;
}
