/* browse.c - the channel directory at the domain: disco#items (XEP-0030)
 * lists the channels anyone may ask for, paged with XEP-0059. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_directory.h"
#include "cs_error.h"
#include "cs_text.h"
#include "cs_util.h"
#include "service_priv.h"

struct listing {
    struct service *svc;
    struct xml_node *query;
    char *first, *last; /* the page's first and last names (XEP-0059 UIDs) */
};

static void add_item(void *ud, const char *name, const char *display)
{
    struct listing *l = ud;
    struct xml_node *item = xml_add_child(l->query, "item", NULL);
    char *jid = service_channel_jid(l->svc, name);
    xml_set_attr(item, "jid", jid);
    if (display && text_name_ok(display))
        xml_set_attr(item, "name", display);
    free(jid);
    if (l->first == NULL)
        l->first = xstrdup(name);
    free(l->last);
    l->last = xstrdup(name);
}

/* The request's <set/>: *max_r (BROWSE_PAGE_MAX when absent, capped to
 * it), *after_r / *before_r (NULL when absent; caller frees).  false when
 * the set cannot be honoured, with the error sent. */
static bool read_set(struct service *svc, const struct iq_ctx *q, int *max_r, char **after_r,
                     char **before_r)
{
    const struct xml_node *set = xml_child(q->payload, "set", NS_RSM);
    const struct xml_node *max = set ? xml_child(set, "max", NS_RSM) : NULL;
    const struct xml_node *after = set ? xml_child(set, "after", NS_RSM) : NULL;
    const struct xml_node *before = set ? xml_child(set, "before", NS_RSM) : NULL;
    int64_t v = BROWSE_PAGE_MAX;

    *max_r = BROWSE_PAGE_MAX;
    *after_r = *before_r = NULL;
    if (set && xml_child(set, "index", NS_RSM)) {
        /* Jumping to an index would need a count of the rows before it. */
        service_error(svc, q->in, "cancel", "feature-not-implemented",
                      "paging by index is not supported; use after or before");
        return false;
    }
    if (max) {
        char *text = xml_text_dup(max);
        int rc = cs_parse_int(text, 0, INT32_MAX, &v);
        free(text);
        if (rc != 0) {
            service_error(svc, q->in, "modify", "bad-request", "max must be a number");
            return false;
        }
    }
    if (after && before) {
        service_error(svc, q->in, "modify", "bad-request", "after and before together");
        return false;
    }
    if (after) {
        *after_r = xml_text_dup(after);
        if (**after_r == '\0') {
            free(*after_r);
            *after_r = NULL;
            service_error(svc, q->in, "modify", "bad-request", "after needs the last item's id");
            return false;
        }
    }
    if (before)
        *before_r = xml_text_dup(before); /* empty: the last page */
    *max_r = v < BROWSE_PAGE_MAX ? (int)v : BROWSE_PAGE_MAX;
    return true;
}

void browse_items(struct service *svc, const struct iq_ctx *q)
{
    struct listing l = {.svc = svc};
    struct xml_node *r, *set;
    char *after, *before;
    long long count;
    int max, n, rc;

    if (!read_set(svc, q, &max, &after, &before))
        return;
    r = stanza_iq_result(q->in, svc->domain);
    l.query = xml_add_child(r, "query", NS_DISCO_ITEMS);
    rc = directory_page(svc->opts.directory, after, before, max, add_item, &l, &n);
    if (rc == 0)
        rc = directory_count(svc->opts.directory, &count);
    if (rc != 0 && rc != CS_ENOTFOUND) {
        service_error(svc, q->in, "wait", "internal-server-error", NULL);
        xml_free(r);
    } else {
        /* XEP-0059 2.1: the page's first and last ids and the count,
         * which an empty page (or max 0) carries alone. */
        set = xml_add_child(l.query, "set", NS_RSM);
        if (l.first) {
            xml_add_text(xml_add_child(set, "first", NULL), l.first);
            xml_add_text(xml_add_child(set, "last", NULL), l.last);
        }
        if (rc == 0) {
            char num[32];
            snprintf(num, sizeof(num), "%lld", count);
            xml_add_text(xml_add_child(set, "count", NULL), num);
        }
        service_send(svc, r);
    }
    free(l.first);
    free(l.last);
    free(after);
    free(before);
}
